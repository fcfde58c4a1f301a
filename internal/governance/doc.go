// Package governance says which team owns which cluster and who may
// request and approve which change on it.
//
// A Team is a named set of the identity provider's groups: requesters,
// approvers and leads. Ownership comes from rules an admin sets (the value
// of an awsTags entry, or a name prefix) with explicit overrides per
// cluster (SQL function cluster_owner, migration 00120); a cluster whose
// owner names no team is unowned, and only admins act on it.
//
// Allowed is the one permission function. The approvals service calls it
// (through Checker, its approvals.Permissions) when a request is filed or
// approved, and the pages and the API ask the service, so the buttons
// shown, the forms, the handlers and the API agree. A refusal is an
// *approvals.Refusal naming what would grant it.
//
// With no team defined, Allowed allows everything and the portal's global
// roles decide alone, as before governance existed.
package governance
