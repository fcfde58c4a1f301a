package templates

// RequestHistoryView is what the request page shows about history: the
// fields a rollback (or replace) does not take from the version, what
// changed since the previous revision (a rebase's diff of diffs) or since
// the viewer last decided, and the other open requests changing the same
// fields.
type RequestHistoryView struct {
	RequestID int64
	// RollbackTo is the version a rollback restores (0 with RollbackURL
	// empty: not a rollback); RollbackURL compares it with the base.
	RollbackTo  int64
	RollbackURL string
	NotRestored []NotRestoredRow
	// Changes is the diff of diffs from the previous revision; nil for
	// the first revision.
	Changes *RevisionChangesView
	// SinceYou is the diff of diffs since the revision the viewer last
	// decided on; nil when they never did or decided on this one.
	SinceYou   *RevisionChangesView
	Collisions []CollisionRow
}

// Empty reports whether there is nothing to show.
func (v RequestHistoryView) Empty() bool {
	return v.RollbackURL == "" && len(v.NotRestored) == 0 && v.Changes == nil && v.SinceYou == nil && len(v.Collisions) == 0
}

// NotRestoredRow is a field taken from the live cluster, not the version.
type NotRestoredRow struct {
	Path          string
	Live, Version string
	Why           string
	// Differs: keeping the live value made a difference.
	Differs bool
}

// RevisionChangesView is the diff of diffs between two revisions.
type RevisionChangesView struct {
	FromRevision, ToRevision int
	// BaseMoved: the cluster changed between the two bases FromBase and
	// ToBase; Cluster lists those changes.
	BaseMoved        bool
	FromBase, ToBase int64
	Cluster          []RequestDiffRow
	Proposal         []ChangeDeltaRow
	// HardUpdate says how the choice of a hard update changed: "chosen",
	// "dropped", or "" (unchanged).
	HardUpdate string
}

// ChangeDeltaRow is one entry of the proposal's diff that changed between
// two revisions. Kind is "added", "dropped" or "changed"; the Old and New
// values are the entry's before → after in each revision ("" when absent).
type ChangeDeltaRow struct {
	Path, Kind string
	Old, New   string
}

// CollisionRow is another open request changing the same fields.
type CollisionRow struct {
	ID    int64
	URL   string
	Kind  string
	State string
	// Paths are the fields both change; WholeCluster: either deletes it.
	Paths        []string
	WholeCluster bool
	// Earlier: the other request was filed first, so this one waits.
	Earlier bool
}
