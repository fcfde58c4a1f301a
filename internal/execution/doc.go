// Package execution sends approved change requests to the Cloud Manager API
// and follows them until their cluster has converged.
//
// It owns three tables: submissions (one per approved revision, in
// approval order per cluster), submission_attempts (every call that could
// change a cluster, recorded before it is sent) and cluster_events (the
// clusters' events as tracking copied them). No other package writes them.
//
// What differs between kinds of change is one table, kinds.go: how each
// kind is sent (which call, which body), how to tell that it is already in
// the cluster (after an answer was lost), whether it may be sent again
// after an ambiguous outcome, and when it has converged. Adding a kind is
// one entry there.
//
// The guarantees, in order of the steps of Executor.Submit:
//
//   - One change per cluster at a time, in approval order (Queue,
//     QueuePosition).
//   - A change is sent only while its request is approved at the revision
//     approved, and only if the cluster is still at the reviewed resource
//     version; otherwise the request goes stale and nothing is sent.
//   - Every attempt is recorded before the call and completed after it.
//     An attempt without an answer (a timeout, a dropped connection, a 5xx,
//     a process that died) has an unknown outcome: before anything is sent
//     again the cluster is read and the change looked for (reconciled).
//   - A change of unknown outcome is not taken for "never applied" unless
//     a read begun after Options.SettleTime has passed since the call
//     misses it: a gateway or the API may still be processing a request
//     the client abandoned. A create is never sent twice: when its
//     cluster has not appeared by then, the request stops as "outcome
//     unknown — needs a person".
//
// Executor.Track then reads the cluster at a steady pace, copies its events
// and the update's progress, and ends the request as succeeded or failed.
// The River jobs that drive both live in internal/worker; this package
// knows nothing of River.
package execution
