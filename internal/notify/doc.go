// Package notify tells people what happened to change requests: by email
// (SMTP), in chat (Slack-compatible incoming webhooks) and to other
// systems (generic webhooks signed per the Standard Webhooks scheme).
//
// It is a transactional outbox on River. Hook (the approvals.EventHook of
// the approvals service and of execution) inserts a notify_event job in the
// transaction that changes the request, so nothing is sent for a change
// that rolled back and nothing is lost for one that committed. That job
// works out who is told by which channel, renders the message once, and
// writes one delivery per (event, recipient, channel) with a
// notify_deliver job each, in one transaction. A delivery's idempotency key
// is unique: a fan-out run twice writes nothing twice, and a delivery
// already sent is not sent again. Each delivery is tried a bounded number of
// times with a growing wait, then marked failed in the delivery log, from
// which an admin may send it again.
//
// The tables notify_endpoints, notify_preferences and notify_deliveries
// are written here only.
package notify
