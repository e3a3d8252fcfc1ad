#!/usr/bin/env bash
# Installs Deno from the npm package `deno` (the only channel the build machines reach) into a
# cache directory and prints the path of the `deno` binary on its last line. A no-op when that
# version is already there. Needs Node.js with npm.
#
#   DENO_VERSION   version to install (default: the pin below)
#   GSIDECAR_CACHE_DIR  cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/k8s-gsidecar)
set -euo pipefail

version="${DENO_VERSION:-2.9.6}"
cache_root="${GSIDECAR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/k8s-gsidecar}"
prefix="$cache_root/deno/$version"
bin="$prefix/bin/deno"

if [[ -x "$bin" ]] && "$bin" --version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi

command -v npm >/dev/null || { echo "install_deno.sh: npm is needed to install Deno $version" >&2; exit 1; }

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform="linux-x64-glibc" ;;
  Linux-aarch64) platform="linux-arm64-glibc" ;;
  Darwin-x86_64) platform="darwin-x64" ;;
  Darwin-arm64) platform="darwin-arm64" ;;
  *) echo "install_deno.sh: no npm build of Deno for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "installing Deno $version from npm (@deno/$platform)" >&2
# The platform package carries the binary itself; installing it directly avoids depending on
# the wrapper's postinstall script.
npm install --no-audit --no-fund --loglevel=error --prefix "$tmp" "@deno/$platform@$version" >&2
found="$(find "$tmp/node_modules/@deno/$platform" -type f -name deno | head -n 1)"
[[ -n "$found" ]] || { echo "install_deno.sh: the package @deno/$platform@$version holds no deno binary" >&2; exit 1; }

mkdir -p "$prefix/bin"
install -m 0755 "$found" "$bin.tmp"
mv "$bin.tmp" "$bin"
"$bin" --version >&2
echo "$bin"
