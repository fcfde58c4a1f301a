// Package approvals is the heart of Clusterdesk: change requests to Imply
// clusters, their diffs and risk hints, the approval policies and the
// four-eyes approval that lets a change go ahead.
//
// # Requests
//
// A request (kinds create, update, stop, start, delete, restart_server,
// rollback, replace) is filed with a reason against a base:
// the cluster's resource version and spec as the inventory has them. The
// proposal, the structured Diff between base and proposal (see Change for
// the path format), its SHA-256 Hash and the Risks derived from it make a
// Revision. Editing or rebasing a request adds a revision; every revision
// is kept. The state machine is in state.go (States, CanTransition); every
// state change is a conditional UPDATE under the request's row lock.
//
// # Approval
//
// The Policy that applies is chosen in PostgreSQL (policy_for): the
// strictest matching rule on environment, kind and risk hints. An approval
// is bound to the revision, its diff hash and its base resource version and
// counts only while all three are current, so any edit or rebase voids the
// approvals given so far. Four-eyes cannot be overridden: neither the
// requester nor anyone who made a revision may approve or reject. Who may
// approve is one rule, Policy.Eligible, used by Approve, Reject,
// WhatItTakes (the approve button) and ListAwaiting (the approvals queue):
// the person holds the approver role (Actor.Approver, granted by
// PORTAL_APPROVER_GROUPS) and is in one of the policy's approver groups,
// judged by the groups their session carries at the moment of the
// approval; those groups go into the audit event. PolicyGroupsOutside
// lists the policies' groups that grant no approver role. Before approving, the
// caller re-reads the live cluster and passes its resource version: if it
// moved since the base the request goes stale and waits for a rebase.
// The approval that meets the policy moves the request to approved in the
// same transaction as its audit event and Config.OnApproved (the place to
// enqueue the submission).
//
// # Transactions and locks
//
// Every use case is one transaction: lock the request row, check, write,
// append the audit event last (unchained: audit.Append takes no shared lock;
// the worker's chainer chains it after the commit), commit. Concurrent approvals of one request queue on
// its row lock, and a unique constraint on (request, revision, approver)
// backs that up, so double clicks and two approvers at once never give two
// approvals or two completions. Each change is announced with pg_notify
// on inventory.NotifyChannel (RequestNotification).
//
// # History
//
// SettleVersions (history.go) attributes each new resource version of a
// cluster to the request whose submission produced it, or records a Drift
// when nothing Clusterdesk did explains it. A rollback restores a stored
// version's spec except the NotRestoredRules fields; a replace takes a
// whole spec; both are submitted as a PUT. A revision made from an earlier
// one stores the diff of diffs (RevisionChanges); Collisions lists the
// other open requests changing the same fields, and Approve refuses to
// complete the later of two (ErrCollision). See docs/history.md.
//
// # Mass assignment
//
// Inputs (NewRequest, Edit, Approve, Reject) have no state, requester,
// revision-author, base or diff fields: those come from the Actor, the
// inventory and the computation, never from what a form posts.
//
// # Validation
//
// ValidateSpec and ValidateCreate apply the local rules, DryRun asks the
// API (dryRun=true; rollback and replace as the PUT they will send), and
// Check merges both. Violations carry the API's target paths;
// FieldForTarget and Violations.Place put each on its form field, or in
// the list at the top of the form.
//
// # Hard updates
//
// A change that restarts servers of a cluster that cannot take a rolling
// update is refused by the API unless sent with force=true. DryRun turns
// that refusal into a Violation with NeedsHardUpdate, at the field whose
// change causes the restarts (spec.version first). The requester may
// choose a hard update instead (NewRequest.HardUpdate, stored as
// Payload.HardUpdate): the dry run then asks again with force=true. The
// choice is part of the diff hash (approvals bind to it), gives the
// hard_update risk hint and with it the hard-update policy (two
// approvals); execution sends force=true exactly for such revisions.
package approvals
