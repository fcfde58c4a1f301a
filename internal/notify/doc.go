// Package notify tells people what happened to change requests: by email
// (SMTP), in chat (Slack-compatible incoming webhooks) and to other
// systems (generic webhooks signed per the Standard Webhooks scheme).
//
// The audit log is its outbox. Every change of a request appends its audit
// event in the transaction that makes it, so an event exists exactly when
// its change committed. Relay (run by the worker, as often as the audit
// chainer) reads the chained events after its cursor and inserts a
// notify_event job for each one people are told of, moving the cursor in
// the same transaction: nothing is sent for a change that rolled back,
// nothing is lost for one that committed, each event is queued once, and
// the changing transaction does no extra work. That job works out who is
// told by which channel, renders the message once, and writes one delivery
// per (event, recipient, channel) with a notify_deliver job each, in one
// transaction. A delivery's idempotency key is unique: a fan-out run twice
// writes nothing twice, and a delivery already sent is not sent again.
// Each delivery is tried a bounded number of times with a growing wait,
// then marked failed in the delivery log, from which an admin may send it
// again.
//
// The tables notify_endpoints, notify_preferences, notify_deliveries and
// notify_relay are written here only.
package notify
