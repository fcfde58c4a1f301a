package approvals

import "slices"

// Kind is the operation a change request asks for.
type Kind string

// The kinds. Rollback and replace are reserved for a later issue: the
// database accepts them, Create refuses them.
const (
	KindCreate        Kind = "create"
	KindUpdate        Kind = "update"
	KindStop          Kind = "stop"
	KindStart         Kind = "start"
	KindDelete        Kind = "delete"
	KindRestartServer Kind = "restart_server"
	KindRollback      Kind = "rollback" // reserved
	KindReplace       Kind = "replace"  // reserved
)

var supportedKinds = []Kind{KindCreate, KindUpdate, KindStop, KindStart, KindDelete, KindRestartServer}

// Kinds lists the kinds a request may have today, in the order the cluster
// page offers them.
func Kinds() []Kind { return slices.Clone(supportedKinds) }

// Supported reports whether requests of kind k can be filed.
func (k Kind) Supported() bool { return slices.Contains(supportedKinds, k) }

// onCluster reports whether k acts on an existing cluster (all but create).
func (k Kind) onCluster() bool { return k != KindCreate }
