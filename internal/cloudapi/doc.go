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
//   - Round-trip fidelity: every object keeps the JSON members this client
//     does not know in its Extra field, so a spec read and written back (PUT,
//     rollback) loses nothing.
//   - Every failure the service reports is an *APIError (status, code,
//     message, per-field details); IsBusy, IsNotFound, IsRetryable and
//     RetryAfter classify any error the client returns.
//   - Safe retries: GET, PUT, PATCH and DELETE are retried with jittered
//     backoff on retryable failures; POST (create, restart) never is, so the
//     caller reconciles an ambiguous create itself.
//   - Authentication by OAuth client credentials (one shared, cached token,
//     refreshed before expiry and once more after a 401) or a static bearer
//     token. Secrets never appear in logs or error messages.
//
// CreateMergePatch and ApplyMergePatch implement RFC 7386 for UpdateCluster.
// The simulator in package sim serves the same API for tests and demos.
package cloudapi
