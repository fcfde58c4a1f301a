// Package audit is Clusterdesk's audit log: append-only, hash-chained, and
// browsable.
//
// Append writes an event inside the caller's transaction, so an action and its
// audit entry commit or roll back together. Each entry stores the hash of the
// one before it and its own hash over a canonical JSON line (see Canonical and
// docs/audit.md), so an edit, deletion or reordering breaks the chain at the
// first changed position; Verify walks the chain and finds it. Append takes
// no lock: it writes the event unchained, and Chain (run by the worker) gives
// committed events their place in the chain, in the order they were written,
// in batches serialised on a one-row chain head, so the chain never forks.
//
// List pages through the log newest first with keyset pagination, Export
// streams a filtered set as CSV or JSON Lines with the chain fields, and Prune
// removes events older than the retention period, leaving an anchor that keeps
// the rest verifiable.
//
// Payloads pass through Redact before they are stored: no token, password,
// secret, cookie or authorization header reaches the log.
package audit
