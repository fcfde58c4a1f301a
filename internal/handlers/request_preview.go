package handlers

import (
	"context"
	"errors"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// requestPreview is "what it will take" for a request not yet filed: the
// policy that would apply and the open requests it would meet on the
// cluster. Nil when it cannot be worked out (the request is incomplete, or
// would change nothing): the form says why on its own.
func (s *Server) requestPreview(ctx context.Context, in approvals.NewRequest) *templates.RequestTakesView {
	if s.deps.Approvals == nil {
		return nil
	}
	p, err := s.deps.Approvals.Preview(ctx, in)
	if errors.Is(err, approvals.ErrNoPolicy) {
		return &templates.RequestTakesView{} // the preview says no policy matches
	}
	if err != nil {
		return nil
	}
	return s.takesOf(p)
}

// takesOf is "what it will take" of a preview.
func (s *Server) takesOf(p approvals.Preview) *templates.RequestTakesView {
	if p.Policy.Name == "" {
		return &templates.RequestTakesView{}
	}
	t := &templates.RequestTakesView{
		Policy: p.Policy.Name, PolicyDescription: p.Policy.Description,
		Needed: p.Policy.ApprovalsRequired, Groups: joinOr(p.Policy.ApproverGroups, "no group"),
	}
	for _, o := range p.Overlaps {
		t.Overlaps = append(t.Overlaps, overlapView(o))
	}
	if p.MoreOverlaps {
		t.MoreOverlapsURL = openRequestsURL(p.ClusterName)
	}
	return t
}

// overlapView describes another open request on the same cluster.
func overlapView(o approvals.Overlap) templates.RequestOverlap {
	return templates.RequestOverlap{
		ID: o.Request.ID, URL: requestURL(o.Request.ID), Kind: kindWords(o.Request.Kind),
		State: requestStateText(o.Request.State), SameFields: o.SameFields(),
	}
}
