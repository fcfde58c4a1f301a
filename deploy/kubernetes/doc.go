// Package kubernetes holds the Kubernetes manifests of Clusterdesk (a
// kustomize base and overlays) and, in its tests, their validation: every
// overlay rendered with kustomize's own library, every object decoded
// strictly into the official API types, and the references between the
// objects checked. docs/deployment.md explains the manifests.
package kubernetes
