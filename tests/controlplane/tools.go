//go:build tools

// Package controlplane pins the kube-apiserver and etcd main packages so that
// `go mod tidy` keeps every module they need in go.sum.
package controlplane

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
