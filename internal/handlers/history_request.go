package handlers

import (
	"context"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// requestHistoryView is the history section of request d's page for
// viewer: the version a rollback restores and the fields it keeps, the
// diff of diffs from the previous revision and since the viewer last
// decided, and the other open requests changing the same fields (each
// linked).
func requestHistoryView(ctx context.Context, q approvals.Querier, d approvals.Details, viewer approvals.Actor) (templates.RequestHistoryView, error) {
	r := d.Request
	v := templates.RequestHistoryView{RequestID: r.ID, NotRestored: notRestoredRows(r.Revision.Payload.NotRestored)}
	if to := r.Revision.Payload.RollbackTo; to != nil && r.Revision.HasBase {
		v.RollbackTo = *to
		v.RollbackURL = versionCompareURL(r.ClusterUID, r.Revision.BaseResourceVersion, *to)
	}
	if ch := r.Revision.Changes; ch != nil {
		view := revisionChangesView(*ch)
		v.Changes = &view
	}
	since, ok, err := approvals.ChangesSince(d, viewer.UserID)
	if err != nil {
		return templates.RequestHistoryView{}, err
	}
	if ok {
		view := revisionChangesView(since)
		v.SinceYou = &view
	}
	if r.State.Open() {
		collisions, err := approvals.Collisions(ctx, q, r)
		if err != nil {
			return templates.RequestHistoryView{}, err
		}
		for _, o := range collisions {
			v.Collisions = append(v.Collisions, collisionRow(o, r.ID))
		}
	}
	return v, nil
}

func revisionChangesView(c approvals.RevisionChanges) templates.RevisionChangesView {
	v := templates.RevisionChangesView{FromRevision: c.FromRevision, ToRevision: c.ToRevision,
		BaseMoved: c.BaseMoved(), FromBase: c.FromBase, ToBase: c.ToBase,
		Cluster: diffRows(c.Cluster, nil), HardUpdate: c.HardUpdate}
	for _, d := range c.Proposal {
		row := templates.ChangeDeltaRow{Path: d.Path, Kind: string(d.Kind)}
		if d.Old != nil {
			row.Old = diffValueText(d.Old.Before) + " → " + diffValueText(d.Old.After)
		}
		if d.New != nil {
			row.New = diffValueText(d.New.Before) + " → " + diffValueText(d.New.After)
		}
		v.Proposal = append(v.Proposal, row)
	}
	return v
}
