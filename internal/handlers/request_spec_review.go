package handlers

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/specform"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// specReviewChanges fills the review panel's list of changes: what spec
// changes on the target's cluster (for a new cluster, every setting), with
// the labels and inputs of the form, in form order. It is worked out from
// what the form holds, errors or not; when the JSON cannot be read the
// changes are unknown.
func specReviewChanges(v *templates.SpecFormView, t specTarget, spec cloudapi.ClusterSpec, parse specform.Errors) {
	v.NewCluster = !t.kind.OnCluster()
	v.Changes, v.ChangesUnknown = nil, parse["spec_json"] != ""
	if v.ChangesUnknown {
		return
	}
	var base *cloudapi.ClusterSpec
	if t.cluster != nil {
		current := t.cluster.Spec
		base = &current
	}
	diff, err := approvals.DiffSpecs(base, &spec)
	if err != nil {
		v.ChangesUnknown = true
		return
	}
	// Labelled and placed as the diff table places them (diffPlaceOf), in
	// the form's section order.
	type placed struct {
		change templates.SpecChange
		order  int
	}
	var all []placed
	for _, ch := range diff {
		pl := diffPlaceOf(ch.Path)
		c := templates.SpecChange{Label: pl.label, Before: specShortValue(diffValueText(ch.Before)), After: specShortValue(diffValueText(ch.After))}
		if field, ok := approvals.FieldForTarget(ch.Path); ok {
			c.Field = field
		}
		if v.Mode == "json" {
			c.Field = "spec_json" // the fieldsets are not on the page
		}
		all = append(all, placed{c, pl.order})
	}
	slices.SortStableFunc(all, func(a, b placed) int { return a.order - b.order })
	for _, p := range all {
		v.Changes = append(v.Changes, p.change)
	}
}

// specShortValue is a value for the panel: on one line, and cut after 60
// characters (the full review below the form shows it whole).
func specShortValue(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= 60 {
		return s
	}
	return string([]rune(s)[:59]) + "…"
}

// specCheckName applies the rule that a new cluster's name is free
// (approvals.Service.CheckName) while the form is checked: a taken name is
// the name field's error, with a link to the cluster or request that has
// it. Forms on an existing cluster have no name to check; a name with a
// problem of its own (empty, too long) is not looked up.
func (s *Server) specCheckName(c echo.Context, t specTarget, name string, check *templates.SpecCheckView) {
	if t.kind.OnCluster() || check.Errors["name"] != "" || strings.TrimSpace(name) == "" {
		return
	}
	var self int64
	if t.request != nil {
		self = t.request.ID
	}
	err := s.deps.Approvals.CheckName(c.Request().Context(), name, self)
	if taken, ok := errors.AsType[*approvals.NameTakenError](err); ok {
		specNameTaken(check, taken)
	} else if err != nil {
		s.logger.WarnContext(c.Request().Context(), "checking a new cluster's name failed", "request_id", RequestID(c), "err", err)
	}
}

// specNameTaken puts a taken name on the name field, with a link to whoever
// has it.
func specNameTaken(check *templates.SpecCheckView, taken *approvals.NameTakenError) {
	check.Errors["name"] = taken.Violation().Message
	link := templates.SpecLink{Text: "Open " + taken.Name, URL: "/clusters/" + taken.ClusterUID}
	if taken.RequestID != 0 {
		id := strconv.FormatInt(taken.RequestID, 10)
		link = templates.SpecLink{Text: "Open request " + id, URL: "/requests/" + id}
	}
	if check.Links == nil {
		check.Links = map[string]templates.SpecLink{}
	}
	check.Links["name"] = link
}
