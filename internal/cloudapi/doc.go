// Package cloudapi is a typed client for the Imply Cloud Manager API, the
// vendor service that creates, changes and removes the clusters Clusterdesk
// manages.
//
// The API is described in docs/cloud-manager-api: openapi.yaml is the
// reconstructed contract and BEHAVIOUR.md separates what Imply documents [D]
// from what we inferred [I]. Code that relies on an inference says so with a
// comment pointing at the BEHAVIOUR.md section.
//
// What the client guarantees:
//
//   - One method per operation, context first (ListClusters, GetCluster,
//     CreateCluster, UpdateCluster, ReplaceCluster, DeleteCluster,
//     GetClusterVersion, RestartServer).
//   - Round-trip fidelity: every object keeps in its Extra field the JSON
//     members this client does not know and the known ones read in a form
//     their field would not write back (null, "", 3.0, "42"), so a document
//     read and written back (PUT, rollback) is the same JSON value until a
//     field is changed (see extra.go; member order is not kept).
//   - Tolerant reading: whole numbers written 3.0 or "42", timestamps
//     without a zone or in epoch milliseconds, and unknown enumeration
//     values decode; ListClusters decodes each cluster on its own and
//     returns one it cannot read with Cluster.Unreadable set, so one odd
//     cluster does not hide the others.
//   - Behaviour (Config.Behaviour) holds what the reference leaves open:
//     the names of the running, stopped and busy states, the healthy
//     value, the restart route, whether the service fills in defaults.
//   - Every failure the service reports is an *APIError (status, code,
//     message, per-field details); IsBusy, IsNotFound, IsRetryable and
//     RetryAfter classify any error the client returns.
//   - Safe retries: GET, PUT, PATCH and DELETE are retried with jittered
//     backoff on retryable failures; POST (create) and a restart, whatever
//     its method, never are once they may have reached the service, so the
//     caller reconciles an ambiguous create itself.
//   - A create, update or replace answered 2xx without a body returns a
//     nil cluster and a nil error: the change was accepted, read it back.
//   - Authentication by OAuth client credentials (one shared, cached token,
//     refreshed before expiry and once more after a 401) or a static bearer
//     token. Secrets never appear in logs or error messages.
//
// CreateMergePatch and ApplyMergePatch implement RFC 7386 for UpdateCluster.
// The simulator in package sim serves the same API for tests and demos.
package cloudapi
