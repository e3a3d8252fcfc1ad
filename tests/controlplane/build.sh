#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the Go modules pinned in go.mod/go.sum into a cache
# directory outside git, keyed by the hash of go.mod + go.sum: a changed pin rebuilds, an
# unchanged one is a no-op. Prints the directory that holds the binaries on its last line.
#
# Only the Go module proxy is contacted (GOFLAGS=-mod=mod is not used: go.sum is the truth).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${GSIDECAR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/k8s-gsidecar}"
key="$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)"
out="$cache_root/controlplane/$key"

if [[ -x "$out/kube-apiserver" && -x "$out/etcd" ]]; then
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: Go 1.24 or newer is needed to build the local control plane" >&2; exit 1; }

k8s_version="$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$here/go.mod")"
minor="$(echo "$k8s_version" | cut -d. -f2)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
done

tmp="$(mktemp -d "$cache_root/build.XXXXXX" 2>/dev/null || { mkdir -p "$cache_root"; mktemp -d "$cache_root/build.XXXXXX"; })"
trap 'rm -rf "$tmp"' EXIT

echo "building kube-apiserver $k8s_version and etcd into $out (first build takes several minutes)" >&2
cd "$here"
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3

mkdir -p "$(dirname "$out")"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "$out"
