package templates

import "github.com/a-h/templ"

// ClusterVersionRow is one configuration version of a cluster.
type ClusterVersionRow struct {
	ResourceVersion int64
	ImplyVersion    string
	// SeenAt is when the version appeared in Clusterdesk.
	SeenAt  TimeText
	Current bool
	// ProducedBy is the request that made the version (0: none);
	// ProducedByURL its page.
	ProducedBy    int64
	ProducedByURL string
	// Outside: changed outside Clusterdesk. Pending: not attributed yet
	// (a change of Clusterdesk was being submitted when it appeared).
	Outside, Pending bool
	// FromHistory: fetched from the API's history (it came and went
	// between two reads, or predates Clusterdesk).
	FromHistory bool
	// Drift is set on the version that ends a change outside Clusterdesk.
	Drift *ClusterDriftRow
	// CompareURL compares the version with the one before it (empty for
	// the first); RollbackURL opens a rollback request (empty for the
	// current version and on a deleted cluster).
	CompareURL, RollbackURL string
}

// ClusterDriftRow is a change made outside Clusterdesk.
type ClusterDriftRow struct {
	From, To   int64
	DetectedAt TimeText
	// Paths are the fields it changed.
	Paths      []string
	CompareURL string
	AuditURL   string
}

func (r ClusterVersionRow) producedByLink() templ.SafeURL { return templ.SafeURL(r.ProducedByURL) }

// drifts are the rows that end a drift, newest first.
func drifts(rows []ClusterVersionRow) []ClusterVersionRow {
	var out []ClusterVersionRow
	for _, r := range rows {
		if r.Drift != nil {
			out = append(out, r)
		}
	}
	return out
}

// VersionCompareView is the comparison of two versions of a cluster.
type VersionCompareView struct {
	ClusterUID, ClusterName string
	From, To                int64
	// Versions are the versions to choose from, newest first.
	Versions []int64
	Diff     []RequestDiffRow
}

// RollbackNewView is the form that files a rollback to a version.
type RollbackNewView struct {
	ClusterUID, ClusterName, Environment string
	// To is the version restored; Live the cluster's version now.
	To, Live int64
	// Plan says what the rollback will do, before its diff.
	Plan  *PlanView
	Diff  []RequestDiffRow
	Risks []string
	// Policy, PolicyText say which policy applies and what it asks.
	Policy, PolicyText string
	NotRestored        []NotRestoredRow
	Collisions         []CollisionRow
	Reason             string
	Errors             map[string]string
	// Top are the problems no field shows (e.g. nothing to roll back).
	Top []string
	// Blocked: the rollback cannot be filed (it changes nothing).
	Blocked bool
	// OfferHardUpdate shows the choice of a hard update (a dry run said
	// the rollback needs one, or it was chosen); HardUpdate is the choice.
	OfferHardUpdate, HardUpdate bool
}

// Action is where the form posts.
func (v RollbackNewView) Action() string {
	return "/clusters/" + v.ClusterUID + "/versions/" + fmtInt(v.To) + "/rollback"
}

// ReplaceNewView is the advanced form that replaces a cluster's whole
// spec with JSON.
type ReplaceNewView struct {
	ClusterUID, ClusterName, Environment string
	// Seen is the version the JSON was started from.
	Seen     int64
	SpecJSON string
	Reason   string
	Errors   map[string]string
	Top      []string
	// Previewed is set once the JSON was checked: the diff, risks, policy,
	// kept fields and collisions below are what filing would give.
	Previewed bool
	// Plan says what the replacement will do, before its diff.
	Plan               *PlanView
	Diff               []RequestDiffRow
	Risks              []string
	Policy, PolicyText string
	NotRestored        []NotRestoredRow
	Collisions         []CollisionRow
	// OfferHardUpdate shows the choice of a hard update (a dry run said
	// the change needs one, or it was chosen); HardUpdate is the choice.
	OfferHardUpdate, HardUpdate bool
}

// Action is where the form posts.
func (v ReplaceNewView) Action() string { return "/clusters/" + v.ClusterUID + "/replace" }

// ClusterVersionsView is a page of a cluster's older configuration
// versions: those before resource version Before, newest first.
type ClusterVersionsView struct {
	ClusterUID, ClusterName string
	Before                  int64
	Versions                []ClusterVersionRow
	// OlderURL is the next page; empty on the last.
	OlderURL string
}
