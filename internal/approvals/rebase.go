package approvals

import (
	"encoding/json"
	"slices"
)

// RevisionChanges is the diff of diffs between two revisions of a request:
// what changed on the cluster between their bases, and how the proposal's
// own diff changed. Every revision after the first stores the one from its
// predecessor (Revision.Changes); ChangesSince compares any two.
type RevisionChanges struct {
	FromRevision int `json:"fromRevision"`
	ToRevision   int `json:"toRevision"`
	// HasBase is false for create requests (no cluster yet). FromBase and
	// ToBase are the two base resource versions.
	HasBase  bool  `json:"hasBase"`
	FromBase int64 `json:"fromBase,omitempty"`
	ToBase   int64 `json:"toBase,omitempty"`
	// Cluster are the changes made to the cluster from the old base to the
	// new one (by other requests or outside Clusterdesk).
	Cluster Diff `json:"cluster"`
	// Proposal are the entries of the request's diff that appeared,
	// disappeared or changed between the two revisions.
	Proposal []ChangeDelta `json:"proposal"`
	// HardUpdate is how the choice of a hard update changed: HardUpdateChosen,
	// HardUpdateDropped, or "" when it stayed as it was.
	HardUpdate string `json:"hardUpdate,omitempty"`
}

// How the choice of a hard update changed between two revisions.
const (
	HardUpdateChosen  = "chosen"
	HardUpdateDropped = "dropped"
)

// BaseMoved reports whether the cluster changed between the two bases.
func (c RevisionChanges) BaseMoved() bool { return c.HasBase && c.FromBase != c.ToBase }

// Empty reports whether nothing changed at all (e.g. an edit of the reason
// only).
func (c RevisionChanges) Empty() bool {
	return len(c.Cluster) == 0 && len(c.Proposal) == 0 && c.HardUpdate == ""
}

// DeltaKind says how one entry of a request's diff changed between two
// revisions.
type DeltaKind string

// The delta kinds.
const (
	DeltaAdded   DeltaKind = "added"   // the new revision changes a field the old one did not
	DeltaDropped DeltaKind = "dropped" // the old revision's change is gone (e.g. the cluster has it now)
	DeltaChanged DeltaKind = "changed" // both change the field, differently
)

// ChangeDelta is one entry of the proposal's diff that differs between two
// revisions; Old and New are the entries (nil when absent).
type ChangeDelta struct {
	Path string    `json:"path"`
	Kind DeltaKind `json:"kind"`
	Old  *Change   `json:"old,omitempty"`
	New  *Change   `json:"new,omitempty"`
}

// CompareRevisions returns the diff of diffs from revision a to b of one
// request. Errors: the diff's (a spec that does not encode).
func CompareRevisions(a, b Revision) (RevisionChanges, error) {
	c := RevisionChanges{FromRevision: a.Number, ToRevision: b.Number, HasBase: a.HasBase && b.HasBase,
		Cluster: Diff{}, Proposal: diffOfDiffs(a.Diff, b.Diff)}
	switch {
	case !a.Payload.HardUpdate && b.Payload.HardUpdate:
		c.HardUpdate = HardUpdateChosen
	case a.Payload.HardUpdate && !b.Payload.HardUpdate:
		c.HardUpdate = HardUpdateDropped
	}
	if c.HasBase {
		c.FromBase, c.ToBase = a.BaseResourceVersion, b.BaseResourceVersion
		if a.BaseSpec != nil && b.BaseSpec != nil && c.FromBase != c.ToBase {
			d, err := DiffSpecs(a.BaseSpec, b.BaseSpec)
			if err != nil {
				return RevisionChanges{}, err
			}
			if d != nil {
				c.Cluster = d
			}
		}
	}
	return c, nil
}

// diffOfDiffs lists the entries of b that are new or different from a's,
// then a's entries that b no longer has.
func diffOfDiffs(a, b Diff) []ChangeDelta {
	out := []ChangeDelta{}
	for _, nc := range b {
		nc := nc
		oc, ok := a.Find(nc.Path)
		switch {
		case !ok:
			out = append(out, ChangeDelta{Path: nc.Path, Kind: DeltaAdded, New: &nc})
		case !sameValue(oc.Before, nc.Before) || !sameValue(oc.After, nc.After):
			out = append(out, ChangeDelta{Path: nc.Path, Kind: DeltaChanged, Old: &oc, New: &nc})
		}
	}
	for _, oc := range a {
		oc := oc
		if _, ok := b.Find(oc.Path); !ok {
			out = append(out, ChangeDelta{Path: oc.Path, Kind: DeltaDropped, Old: &oc})
		}
	}
	return out
}

// ChangesSince returns what is new in request d for a viewer who last
// decided on an earlier revision: the diff of diffs from that revision to
// the current one. ok is false when the viewer never decided on this
// request or decided on the current revision.
func ChangesSince(d Details, viewerID int64) (changes RevisionChanges, ok bool, err error) {
	last := 0
	for _, a := range d.Decisions {
		if a.Approver.ID == viewerID && a.Revision > last {
			last = a.Revision
		}
	}
	current := d.Request.Revision
	if last == 0 || last == current.Number {
		return RevisionChanges{}, false, nil
	}
	i := slices.IndexFunc(d.Revisions, func(v Revision) bool { return v.Number == last })
	if i < 0 {
		return RevisionChanges{}, false, nil
	}
	changes, err = CompareRevisions(d.Revisions[i], current)
	return changes, err == nil, err
}

func encodeChanges(c *RevisionChanges) ([]byte, error) {
	if c == nil {
		return nil, nil
	}
	return json.Marshal(c)
}

func decodeChanges(raw []byte) (*RevisionChanges, error) {
	if raw == nil {
		return nil, nil
	}
	var c RevisionChanges
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	return &c, nil
}
