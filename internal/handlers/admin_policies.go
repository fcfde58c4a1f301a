package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/governance"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// adminPolicies lists every approval policy, enabled or not, with the
// form that adds one.
func (s *Server) adminPolicies(c echo.Context) error {
	return s.renderAdminPolicies(c, http.StatusOK, templates.AdminPoliciesView{})
}

// adminPolicyCreate adds a policy (disabled) and opens its page; a name
// refused is shown on the list with the values kept.
func (s *Server) adminPolicyCreate(c echo.Context) error {
	if s.deps.Approvals == nil {
		return errRequestsUnavailable
	}
	v := templates.AdminPoliciesView{NewName: c.FormValue("name"), NewDescription: c.FormValue("description")}
	var groups []string
	if s.deps.Auth != nil {
		groups = s.deps.Auth.Roles().Approver
	}
	id, err := s.deps.Approvals.PolicyCreate(c.Request().Context(), requestActor(c), v.NewName, v.NewDescription, groups)
	if errors.Is(err, approvals.ErrInvalid) {
		v.Error = invalidDetail(err)
		return s.renderAdminPolicies(c, http.StatusUnprocessableEntity, v)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, policyURL(id))
}

func (s *Server) renderAdminPolicies(c echo.Context, status int, v templates.AdminPoliciesView) error {
	list, err := approvals.PolicyList(c.Request().Context(), s.deps.DB)
	if err != nil {
		return err
	}
	for _, p := range list {
		v.Rows = append(v.Rows, templates.AdminPolicyRow{ID: p.ID, Name: p.Name, URL: policyURL(p.ID), Description: p.Description,
			Teams: p.Teams, Environments: p.Environments, Kinds: kindStrings(p.Kinds), Risks: riskStrings(p.Risks), Groups: p.ApproverGroups,
			Approvals: p.ApprovalsRequired, TeamLead: p.TeamLeadRequired, Enabled: p.Enabled})
	}
	return s.render(c, status, templates.AdminPoliciesPage(s.page(c, "Approval policies"), v))
}

func policyURL(id int64) string { return "/admin/policies/" + strconv.FormatInt(id, 10) }

func kindStrings(ks []approvals.Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

func riskStrings(rs []approvals.RiskCode) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func policyIDParam(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return 0, echo.ErrNotFound
	}
	return id, nil
}

// adminPolicy is one policy's page: the form, its history.
func (s *Server) adminPolicy(c echo.Context) error {
	id, err := policyIDParam(c)
	if err != nil {
		return err
	}
	pa, err := approvals.PolicyAdminGet(c.Request().Context(), s.deps.DB, id)
	if err != nil {
		return err
	}
	st := pa.Settings()
	return s.renderAdminPolicy(c, http.StatusOK, pa, templates.AdminPolicyView{}, policyFormOf(st))
}

func policyFormOf(st approvals.PolicySettings) templates.AdminPolicyForm {
	return templates.AdminPolicyForm{Description: st.Description, Environments: strings.Join(st.Environments, ", "),
		Groups: strings.Join(st.ApproverGroups, ", "), Approvals: strconv.Itoa(st.ApprovalsRequired),
		TeamLead: st.TeamLeadRequired, Enabled: st.Enabled, ApprovalMaxAge: approvalAgeField(st.ApprovalMaxAge)}
}

func (s *Server) renderAdminPolicy(c echo.Context, status int, pa approvals.PolicyAdmin, v templates.AdminPolicyView, form templates.AdminPolicyForm) error {
	v.ID, v.Name, v.Action, v.Form = pa.ID, pa.Name, policyURL(pa.ID), form
	kinds, risks, teams := c.Request().Form["kinds"], c.Request().Form["risks"], c.Request().Form["teams"]
	if c.Request().Method == http.MethodGet {
		kinds, risks, teams = kindStrings(pa.Kinds), riskStrings(pa.Risks), pa.Teams
	}
	defined, err := governance.TeamList(c.Request().Context(), s.deps.DB)
	if err != nil {
		return err
	}
	// The defined teams, and those the policy names that no longer exist
	// (so that they can be unticked).
	names := []string{}
	for _, t := range defined {
		names = append(names, t.Name)
	}
	for _, t := range append(slices.Clone(pa.Teams), teams...) {
		if !slices.Contains(names, t) {
			names = append(names, t)
		}
	}
	for _, t := range names {
		v.TeamOptions = append(v.TeamOptions, templates.ClusterOption{Value: t, Label: t, Selected: slices.Contains(teams, t)})
	}
	for _, k := range approvals.Kinds() {
		v.KindOptions = append(v.KindOptions, templates.ClusterOption{Value: string(k), Label: string(k), Selected: slices.Contains(kinds, string(k))})
	}
	for _, r := range approvals.RiskCodes() {
		v.RiskOptions = append(v.RiskOptions, templates.ClusterOption{Value: string(r), Label: string(r), Selected: slices.Contains(risks, string(r))})
	}
	history, err := audit.List(c.Request().Context(), s.deps.DB, audit.Filter{SubjectType: audit.SubjectPolicy,
		SubjectID: strconv.FormatInt(pa.ID, 10)}, audit.PageRequest{Limit: 50})
	if err != nil {
		return err
	}
	for _, e := range history.Entries {
		v.History = append(v.History, templates.AdminPolicyChange{At: e.At.Format(time.RFC3339), AtText: e.At.Format("2006-01-02 15:04:05 MST"),
			Actor: e.Actor.Name, EventURL: "/audit/events/" + strconv.FormatInt(e.Seq, 10), Changes: beforeAfter(e.Data)})
	}
	return s.render(c, status, templates.AdminPolicyPage(s.page(c, "Policy "+pa.Name), v))
}

// beforeAfter says an audit event's before and after in words, one line
// per field that changed: "approvals_required: 2 → 3".
func beforeAfter(data json.RawMessage) []string {
	var d struct {
		Before map[string]any `json:"before"`
		After  map[string]any `json:"after"`
	}
	if json.Unmarshal(data, &d) != nil {
		return nil
	}
	keys := make([]string, 0, len(d.After))
	for k := range d.After {
		keys = append(keys, k)
	}
	for k := range d.Before {
		if _, ok := d.After[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		if !reflect.DeepEqual(d.Before[k], d.After[k]) {
			out = append(out, fmt.Sprintf("%s: %s → %s", k, valueText(d.Before[k]), valueText(d.After[k])))
		}
	}
	return out
}

func valueText(v any) string {
	if v == nil {
		return "none"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// adminPolicyPost previews (preview=1) or saves the form.
func (s *Server) adminPolicyPost(c echo.Context) error {
	id, err := policyIDParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	pa, err := approvals.PolicyAdminGet(ctx, s.deps.DB, id)
	if err != nil {
		return err
	}
	if s.deps.Approvals == nil {
		return errRequestsUnavailable
	}
	form := templates.AdminPolicyForm{Description: c.FormValue("description"), Environments: c.FormValue("environments"),
		Groups: c.FormValue("approver_groups"), Approvals: c.FormValue("approvals_required"),
		TeamLead: c.FormValue("team_lead_required") == "true", Enabled: c.FormValue("enabled") == "true",
		ApprovalMaxAge: c.FormValue("approval_max_age")}
	n, convErr := strconv.Atoi(strings.TrimSpace(form.Approvals))
	maxAge, ageOK := parseApprovalAge(form.ApprovalMaxAge)
	st := approvals.PolicySettings{Description: form.Description, Environments: splitList(form.Environments),
		ApprovalsRequired: n, ApproverGroups: splitList(form.Groups), TeamLeadRequired: form.TeamLead, Enabled: form.Enabled,
		ApprovalMaxAge: maxAge}
	for _, k := range c.Request().Form["kinds"] {
		st.Kinds = append(st.Kinds, approvals.Kind(k))
	}
	for _, r := range c.Request().Form["risks"] {
		st.Risks = append(st.Risks, approvals.RiskCode(r))
	}
	st.Teams = c.Request().Form["teams"]
	v := templates.AdminPolicyView{}
	if convErr != nil {
		v.Error = "Approvals needed: type a number from 1 to 10."
		return s.renderAdminPolicy(c, http.StatusUnprocessableEntity, pa, v, form)
	}
	if !ageOK {
		v.Error = approvalAgeHelp
		return s.renderAdminPolicy(c, http.StatusUnprocessableEntity, pa, v, form)
	}
	var effects []approvals.PolicyEffect
	if c.FormValue("preview") != "" {
		v.Previewed = true
		effects, err = s.deps.Approvals.PolicyPreview(ctx, id, st)
	} else {
		var groups []string
		if s.deps.Auth != nil {
			groups = s.deps.Auth.Roles().Approver
		}
		v.Saved = true
		effects, err = s.deps.Approvals.PolicySave(ctx, requestActor(c), id, st, groups)
	}
	if errors.Is(err, approvals.ErrInvalid) {
		v.Error, v.Previewed, v.Saved = invalidDetail(err), false, false
		return s.renderAdminPolicy(c, http.StatusUnprocessableEntity, pa, v, form)
	}
	if err != nil {
		return err
	}
	for _, e := range effects {
		v.Effects = append(v.Effects, templates.AdminPolicyEffect{RequestURL: "/requests/" + strconv.FormatInt(e.RequestID, 10),
			Request: fmt.Sprintf("#%d %s %s", e.RequestID, e.Kind, e.ClusterName),
			Before:  effectText(e.BeforePolicy, e.BeforeNeeded) + givenText(e.BeforeGiven, e.Given),
			After:   effectText(e.AfterPolicy, e.AfterNeeded) + givenText(e.Given, e.BeforeGiven), Met: v.Saved && e.Met()})
	}
	if v.Saved {
		// Re-read: the page shows what is stored now.
		if pa, err = approvals.PolicyAdminGet(ctx, s.deps.DB, id); err != nil {
			return err
		}
		form = policyFormOf(pa.Settings())
	}
	return s.renderAdminPolicy(c, http.StatusOK, pa, v, form)
}

func effectText(policy string, needed int) string {
	if policy == "" {
		return "no policy (nobody may approve)"
	}
	word := "approvals"
	if needed == 1 {
		word = "approval"
	}
	return fmt.Sprintf("%s, %d %s", policy, needed, word)
}

// givenText says how many approvals count when that is what a change
// moves (an age that makes approvals expire, or count again).
func givenText(given, other int) string {
	if given == other {
		return ""
	}
	return fmt.Sprintf(" (%d %s)", given, plural(given, "approval counts", "approvals count"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
