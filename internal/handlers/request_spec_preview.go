package handlers

import (
	"errors"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// specPreview is the spec form's proposal as the request it would file:
// the diff against the cluster, its risk hints and what approval it takes.
// Nil when it cannot be worked out (the form then shows its errors).
func (s *Server) specPreview(c echo.Context, t specTarget, name string, spec cloudapi.ClusterSpec, hardUpdate bool) *templates.SpecPreviewView {
	if s.deps.Approvals == nil {
		return nil
	}
	in := approvals.NewRequest{Kind: t.kind, Name: strings.TrimSpace(name), Reason: "preview", Spec: &spec, HardUpdate: hardUpdate}
	switch {
	case t.cluster != nil:
		in.ClusterUID, in.SeenResourceVersion = t.cluster.UID, &t.cluster.ResourceVersion
	case t.request != nil:
		in.ClusterUID = t.request.ClusterUID
		if in.Name == "" {
			in.Name = t.request.ClusterName
		}
	}
	p, err := s.deps.Approvals.Preview(c.Request().Context(), in)
	switch {
	case errors.Is(err, approvals.ErrNoChange):
		return &templates.SpecPreviewView{NoChange: true}
	case errors.Is(err, approvals.ErrNoPolicy):
		p.Policy = approvals.Policy{}
	case err != nil:
		return nil
	}
	v := &templates.SpecPreviewView{
		Plan:       planView(approvals.PlanOf(t.kind, in.Name, p.Revision)),
		Create:     !t.kind.OnCluster(),
		Diff:       specDiffRows(p.Revision.Diff, p.Revision.Risks, p.Revision.ProposedSpec),
		Takes:      s.takesOf(p),
		HardUpdate: p.Revision.Payload.HardUpdate,
	}
	for _, r := range p.Revision.Risks {
		v.Risks = append(v.Risks, r.Message)
	}
	return v
}
