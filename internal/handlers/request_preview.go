package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
		t.Overlaps = append(t.Overlaps, overlapText(o))
	}
	return t
}

// overlapText describes another open request on the same cluster.
func overlapText(o approvals.Overlap) string {
	text := fmt.Sprintf("Request %d (%s, %s)", o.Request.ID, strings.ReplaceAll(string(o.Request.Kind), "_", " "), requestStateText(o.Request.State))
	if o.SameFields() {
		text += ": changes the same fields"
	}
	return text
}
