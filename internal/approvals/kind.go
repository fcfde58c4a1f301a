package approvals

import "slices"

// Kind is the operation a change request asks for.
type Kind string

// The kinds. Rollback and replace send the whole spec (a PUT): rollback
// restores an earlier version's spec except the fields listed in
// NotRestored, replace takes a spec written whole (an advanced editor).
const (
	KindCreate        Kind = "create"
	KindUpdate        Kind = "update"
	KindStop          Kind = "stop"
	KindStart         Kind = "start"
	KindDelete        Kind = "delete"
	KindRestartServer Kind = "restart_server"
	KindRollback      Kind = "rollback"
	KindReplace       Kind = "replace"
)

var supportedKinds = []Kind{KindCreate, KindUpdate, KindStop, KindStart, KindDelete, KindRestartServer,
	KindRollback, KindReplace}

// Kinds lists the kinds a request may have today, in the order the cluster
// page offers them.
func Kinds() []Kind { return slices.Clone(supportedKinds) }

// Supported reports whether requests of kind k can be filed.
func (k Kind) Supported() bool { return slices.Contains(supportedKinds, k) }

// Replaces reports whether requests of kind k are submitted as a PUT of the
// whole proposed spec (rollback, replace) rather than a merge patch.
func (k Kind) Replaces() bool { return k == KindRollback || k == KindReplace }

// CanHardUpdate reports whether requests of kind k may carry the choice of
// a hard update (Payload.HardUpdate): those that change the spec of a
// running cluster (update, rollback, replace). Create has no servers yet;
// stop and start take every server down or up anyway.
func (k Kind) CanHardUpdate() bool { return k == KindUpdate || k.Replaces() }

// onCluster reports whether k acts on an existing cluster (all but create).
func (k Kind) onCluster() bool { return k != KindCreate }
