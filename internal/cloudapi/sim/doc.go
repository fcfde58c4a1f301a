// Package sim is a simulator of the Imply Cloud Manager API: a real HTTP
// server (an http.Handler, so it runs under httptest or `portal sim`) that
// behaves as docs/cloud-manager-api/BEHAVIOUR.md describes. Where the
// document marks a behaviour as inferred [I], the code says so.
//
// What it serves, below the base URL it is mounted at:
//
//	POST /auth/realms/{org}/protocol/openid-connect/token   client-credentials tokens
//	     /api/v1/clusters…                                   the API (bearer token required)
//	     /_sim/…                                             control endpoints (below)
//
// Clusters go through timed stages: PENDING then running (STARTED, or
// Config.RunningState) on create;
// UPDATING while a change, stop, start or server restart is applied (one
// stage per affected server for rolling updates, one for hard updates);
// STOPPED. Each stage lasts Config.StageDuration. Every accepted change of
// the configuration makes a new resource version, kept for the history
// call; events are appended at every step; a busy cluster answers 409.
// Request bodies are validated by the documented and inferred rules
// (ValidationTargets lists every field path a 400 can name); a body over
// 1 MiB gets 413 with code PayloadTooLarge (inferred).
//
// By default it is strict, and Config switches let it contradict what a
// client assumes (BEHAVIOUR.md §13 has the table, with the `portal sim`
// flags):
//
//   - Restarts are served on one route, Config.RestartRoute (default
//     DefaultRestartRoute); Config.RestartAliases adds POST and DELETE
//     /clusters/{clusterId}/servers/{instanceId}. Any other spelling gets
//     the API's 404.
//   - Every inferred rule (Rules) is on; Config.DisabledRules, e.g. from
//     ParseRules("master-ha=off"), switches some off.
//   - Config.RunningState names the state of a running cluster (STARTED;
//     e.g. RUNNING) and Config.HealthyStatus its status.status (OK).
//     spec.desiredState keeps its documented STARTED and STOPPED.
//   - Config.FillDefaults stores, and so echoes, members the client did
//     not send (inferred): spec.desiredState STARTED, spec.encryptVolumes
//     false, spec.metadataStore.backupRetention 7 when metadataStore is
//     there, and the master's instanceType for a query or data tier
//     without one. Values sent are kept; it applies to creates (dry runs
//     too), PUT and PATCH.
//
// For tests it offers fault injection (status codes, dropped connections,
// latency, error rates, "apply then drop the connection", answers held
// back, late landings that take effect after the client gave up, a
// failing token endpoint, early token expiry), each fault restricted to an
// operation, to dry runs or real calls, or to one cluster; and a call log,
// the oracle for "nothing lost, nothing duplicated" (a late landing is
// logged when it lands, with AppliedAt). Both are reachable from Go
// (InjectFault, Calls) and over HTTP:
//
//	GET    /_sim/calls            the call log (JSON array of Call)
//	DELETE /_sim/calls            clear it
//	GET    /_sim/faults           active faults
//	POST   /_sim/faults           add a Fault (or an array of them)
//	DELETE /_sim/faults           clear them
//	POST   /_sim/tokens/expire    revoke every issued token
//	POST   /_sim/updates/pause    hold every running change at its stage
//	POST   /_sim/updates/resume   let them continue
//	POST   /_sim/reset            forget clusters, faults and calls (re-seed the demo)
//
// Close stops the timers, abandons late landings still waiting (their
// clients get 503) and saves the state file; nothing changes after it.
//
// The control endpoints need no credentials: never expose a simulator to
// untrusted networks.
package sim
