package approvals

import (
	"context"
	"errors"
	"fmt"
)

// Requirements answer "what will it take?" for one request, for one
// viewer: the policy and the approvals (Evaluation), the other open
// requests on the same cluster, and whether the viewer may approve now.
type Requirements struct {
	Evaluation
	// Overlaps are the other open requests on the same cluster, oldest
	// first, each saying whether it changes the same fields: the first
	// OverlapsShown of them; MoreOverlaps says there are more.
	Overlaps     []Overlap
	MoreOverlaps bool
	// Blocker is nil when the viewer may approve this revision now, else
	// why not: ErrOwnRequest, ErrNotEligible (ErrNoApproverRole without
	// the approver role; the rule is Policy.Eligible, as in Approve),
	// ErrStale, ErrCollision (their approval would complete it while an
	// earlier request changing the same fields is open), ErrConflict
	// (already decided; not for an approval that expired, which its
	// approver may renew) or
	// ErrInvalidTransition (not pending). The live resource version is not
	// checked here; Approve does.
	Blocker error
}

// CanApprove reports whether the viewer may approve now.
func (r Requirements) CanApprove() bool { return r.Blocker == nil }

// Overlap is another open request on the same cluster.
type Overlap struct {
	Request Request
	// Paths are the field paths both requests change (one may be inside
	// the other, e.g. spec.data.tier1 and spec.data.tier1.replicas).
	Paths []string
	// WholeCluster is true when either request deletes the cluster.
	WholeCluster bool
}

// SameFields reports whether the two requests touch the same fields, so
// the later one will need a rebase once the earlier one is applied.
func (o Overlap) SameFields() bool { return o.WholeCluster || len(o.Paths) > 0 }

// WhatItTakes returns the Requirements of request id for viewer. Errors:
// ErrNotFound, ErrNoPolicy.
func WhatItTakes(ctx context.Context, q Querier, id int64, viewer Actor) (Requirements, error) {
	r, err := Get(ctx, q, id)
	if err != nil {
		return Requirements{}, err
	}
	e, err := evaluate(ctx, q, r)
	if err != nil {
		return Requirements{}, err
	}
	req := Requirements{Evaluation: e}
	// One more than shown (and this request itself may be among them)
	// tells whether there are more.
	if req.Overlaps, err = overlapsWith(ctx, q, r, OverlapsShown+2); err != nil {
		return Requirements{}, err
	}
	if len(req.Overlaps) > OverlapsShown {
		req.Overlaps, req.MoreOverlaps = req.Overlaps[:OverlapsShown], true
	}
	req.Blocker, err = blocker(ctx, q, r, e, viewer)
	if err != nil {
		return Requirements{}, fmt.Errorf("approvals: request %d: %w", id, err)
	}
	return req, nil
}

// blocker returns why viewer may not approve r now (nil: they may); err is
// a failure of the database.
func blocker(ctx context.Context, q Querier, r Request, e Evaluation, viewer Actor) (reason, err error) {
	switch {
	case r.State == StateStale:
		return fmt.Errorf("%w: it waits for a rebase", ErrStale), nil
	case r.State != StatePending:
		return fmt.Errorf("%w: the request is %s", ErrInvalidTransition, r.State), nil
	case e.ApprovedBy(viewer.UserID):
		return fmt.Errorf("%w: you approved this revision", ErrConflict), nil
	}
	if err := checkFourEyes(ctx, q, r, viewer.UserID); err != nil {
		if errors.Is(err, ErrForbidden) {
			return err, nil
		}
		return nil, err
	}
	decisions, err := decisionList(ctx, q, r.ID, r.Revision.Number)
	if err != nil {
		return nil, err
	}
	if d := decisionBy(decisions, viewer.UserID); d != nil && e.ExpiredFor(viewer.UserID) == nil {
		return fmt.Errorf("%w: you already decided on this revision (%s)", ErrConflict, d.Decision), nil
	}
	if err := e.Policy.Eligible(viewer); err != nil {
		return err, nil
	}
	if e.Missing() <= 1 && r.Kind.OnCluster() {
		// The viewer's approval would complete it: Approve refuses that
		// while an earlier colliding request is open.
		earlier, err := firstEarlierCollision(ctx, q, r)
		if err != nil {
			return nil, err
		}
		if earlier != nil {
			return fmt.Errorf("%w: request #%d changes the same fields and is %s", ErrCollision, earlier.Request.ID, earlier.Request.State), nil
		}
	}
	return nil, nil
}

// OverlapsShown bounds WhatItTakes's Overlaps: a page lists that many of
// the other open requests and links to the rest.
const OverlapsShown = 10

// overlapsWith returns the other open requests on r's cluster, with the
// fields both change: among the oldest limit open requests of the
// cluster, or all of them when limit is 0.
func overlapsWith(ctx context.Context, q Querier, r Request, limit int) ([]Overlap, error) {
	if r.ClusterUID == "" {
		return nil, nil
	}
	open, err := ListOpenForCluster(ctx, q, r.ClusterUID, limit)
	if err != nil {
		return nil, err
	}
	var out []Overlap
	for _, other := range open {
		if other.ID != r.ID {
			out = append(out, overlapOf(r, other))
		}
	}
	return out, nil
}

// overlapOf is other as seen from r: the fields both change.
func overlapOf(r, other Request) Overlap {
	o := Overlap{Request: other, WholeCluster: r.Kind.WholeCluster() || other.Kind.WholeCluster()}
	for _, a := range r.Revision.Diff.Paths() {
		for _, b := range other.Revision.Diff.Paths() {
			if overlaps(a, b) {
				o.Paths = append(o.Paths, shorter(a, b))
			}
		}
	}
	return o
}

// Collisions returns the other open requests on r's cluster that change
// the same fields as r (or delete the cluster), oldest first: each will
// need a rebase once the other is applied. Approve refuses to complete the
// later of two colliding requests while the earlier is open (ErrCollision).
func Collisions(ctx context.Context, q Querier, r Request) ([]Overlap, error) {
	return colliding(ctx, q, r, false, 0)
}

// firstEarlierCollision returns the oldest open request filed before r
// that collides with it, if any.
func firstEarlierCollision(ctx context.Context, q Querier, r Request) (*Overlap, error) {
	list, err := colliding(ctx, q, r, true, 1)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return &list[0], nil
}

// colliding returns Collisions, only those filed before r when earlier,
// the first limit of them (0: all). The database picks them by the
// revisions' paths column (the same rule as overlaps: equal paths, or one
// inside the other), so the cost is that of the collisions, not of every
// open request of the cluster with its specs.
func colliding(ctx context.Context, q Querier, r Request, earlier bool, limit int) ([]Overlap, error) {
	if r.ClusterUID == "" {
		return nil, nil
	}
	var wholeCluster []Kind
	for _, k := range Kinds() {
		if k.WholeCluster() {
			wholeCluster = append(wholeCluster, k)
		}
	}
	before := int64(0)
	if earlier {
		before = r.ID
	}
	args := []any{r.ClusterUID, r.ID, before, r.Kind.WholeCluster(), wholeCluster, limit}
	// A request that changes no field (a restart) meets only deletes: the
	// condition then stays on change_requests, with no revision to read.
	samePaths := ""
	if paths := r.Revision.Diff.Paths(); len(paths) > 0 {
		samePaths = `OR EXISTS (SELECT FROM jsonb_array_elements_text(v.paths) b, unnest($7::text[]) a
		                  WHERE ` + pathsOverlapSQL + `)`
		args = append(args, paths)
	}
	list, err := listRequests(ctx, q, fmt.Sprintf("collisions of request %d", r.ID), `
		WHERE r.cluster_uid = $1 AND r.state IN ('pending', 'stale', 'approved', 'submitting', 'applying')
		  AND r.id <> $2 AND ($3::bigint = 0 OR r.id < $3)
		  AND ($4 OR r.kind = ANY($5) `+samePaths+`)
		ORDER BY r.id LIMIT nullif($6::int, 0)`, args...)
	if err != nil {
		return nil, err
	}
	out := make([]Overlap, len(list))
	for i, other := range list {
		out[i] = overlapOf(r, other)
	}
	return out, nil
}

// pathsOverlapSQL is overlaps(a, b) in SQL, over text columns a and b.
const pathsOverlapSQL = `a = b OR starts_with(b, a || '.') OR starts_with(b, a || '[')
		           OR starts_with(a, b || '.') OR starts_with(a, b || '[')`

func shorter(a, b string) string {
	if len(b) < len(a) {
		return b
	}
	return a
}
