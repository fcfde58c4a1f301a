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
// Clusters go through timed stages: PENDING then STARTED on create;
// UPDATING while a change, stop, start or server restart is applied (one
// stage per affected server for rolling updates, one for hard updates);
// STOPPED. Each stage lasts Config.StageDuration. Every accepted change of
// the configuration makes a new resource version, kept for the history
// call; events are appended at every step; a busy cluster answers 409.
// Request bodies are validated by the documented and inferred rules
// (ValidationTargets lists every field path a 400 can name).
//
// For tests it offers fault injection (status codes, dropped connections,
// latency, error rates, "apply then drop the connection", a failing token
// endpoint, early token expiry) and a call log, the oracle for "nothing
// lost, nothing duplicated". Both are reachable from Go (InjectFault, Calls)
// and over HTTP:
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
// The control endpoints need no credentials: never expose a simulator to
// untrusted networks.
package sim
