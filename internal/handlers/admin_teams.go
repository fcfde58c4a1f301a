package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/governance"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// adminIndex is the admins' start page.
func (s *Server) adminIndex(c echo.Context) error {
	return s.ok(c, templates.AdminIndexPage(s.page(c, "Administration")))
}

// adminTeams lists the teams, the ownership rules and the overrides;
// ?edit=name fills the form with that team.
func (s *Server) adminTeams(c echo.Context) error {
	var form templates.AdminTeamForm
	if name := c.QueryParam("edit"); name != "" {
		t, err := governance.TeamGet(c.Request().Context(), s.deps.DB, name)
		if err != nil {
			return echo.ErrNotFound
		}
		form = teamForm(t)
	}
	return s.renderAdminTeams(c, http.StatusOK, form, "")
}

func (s *Server) renderAdminTeams(c echo.Context, status int, form templates.AdminTeamForm, problem string) error {
	ctx := c.Request().Context()
	v := templates.AdminTeamsView{Form: form, Error: problem}
	teams, err := governance.TeamList(ctx, s.deps.DB)
	if err != nil {
		return err
	}
	names := []string{}
	for _, t := range teams {
		names = append(names, t.Name)
		v.Teams = append(v.Teams, templates.AdminTeamRow{Name: t.Name, Description: t.Description,
			Requesters: t.RequesterGroups, Approvers: t.ApproverGroups, Leads: t.LeadGroups,
			LeadKinds: t.LeadKinds, LeadEnvironments: t.LeadEnvironments,
			EditURL:   "/admin/teams?" + url.Values{"edit": {t.Name}}.Encode(),
			DeleteURL: "/admin/teams/" + url.PathEscape(t.Name) + "/delete"})
	}
	rules, err := governance.RuleList(ctx, s.deps.DB)
	if err != nil {
		return err
	}
	for _, r := range rules {
		v.Rules = append(v.Rules, templates.AdminRuleRow{Position: r.Position, Text: r.String(),
			DeleteURL: "/admin/ownership/rules/" + strconv.FormatInt(r.ID, 10) + "/delete"})
	}
	owners, err := governance.OwnerList(ctx, s.deps.DB)
	if err != nil {
		return err
	}
	for _, o := range owners {
		v.Owners = append(v.Owners, templates.AdminOwnerRow{ClusterName: o.ClusterName, ClusterURL: clusterURL(o.ClusterUID), Team: o.Team})
	}
	if len(teams) > 0 {
		unowned, err := inventory.ClusterList(ctx, s.deps.DB, inventory.Filter{NotTeams: names, Limit: 20})
		if err != nil {
			return err
		}
		for _, cl := range unowned {
			v.Unowned = append(v.Unowned, templates.AdminClusterRef{Name: cl.Name, URL: clusterURL(cl.UID)})
		}
	}
	return s.render(c, status, templates.AdminTeamsPage(s.page(c, "Teams and ownership"), v))
}

func teamForm(t governance.Team) templates.AdminTeamForm {
	j := func(l []string) string { return strings.Join(l, ", ") }
	return templates.AdminTeamForm{Name: t.Name, Description: t.Description, Requesters: j(t.RequesterGroups),
		Approvers: j(t.ApproverGroups), Leads: j(t.LeadGroups), LeadKinds: j(t.LeadKinds), LeadEnvironments: j(t.LeadEnvironments)}
}

// splitList reads a comma-separated field; an empty one is nil.
func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// adminTeamSave creates or changes a team.
func (s *Server) adminTeamSave(c echo.Context) error {
	form := templates.AdminTeamForm{Name: c.FormValue("name"), Description: c.FormValue("description"),
		Requesters: c.FormValue("requester_groups"), Approvers: c.FormValue("approver_groups"), Leads: c.FormValue("lead_groups"),
		LeadKinds: c.FormValue("lead_kinds"), LeadEnvironments: c.FormValue("lead_environments")}
	t := governance.Team{Name: form.Name, Description: form.Description, RequesterGroups: splitList(form.Requesters),
		ApproverGroups: splitList(form.Approvers), LeadGroups: splitList(form.Leads),
		LeadKinds: splitList(form.LeadKinds), LeadEnvironments: splitList(form.LeadEnvironments)}
	if _, err := governance.NewAdmin(s.deps.DB).TeamSave(c.Request().Context(), requestActor(c), t); err != nil {
		return s.adminProblem(c, form, err)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/teams")
}

// adminTeamDelete removes a team.
func (s *Server) adminTeamDelete(c echo.Context) error {
	if err := governance.NewAdmin(s.deps.DB).TeamDelete(c.Request().Context(), requestActor(c), c.Param("name")); err != nil {
		return s.adminProblem(c, templates.AdminTeamForm{}, err)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/teams")
}

// adminRuleAdd appends an ownership rule.
func (s *Server) adminRuleAdd(c echo.Context) error {
	r := governance.Rule{Source: c.FormValue("source"), Key: c.FormValue("key"), Team: c.FormValue("team")}
	if _, err := governance.NewAdmin(s.deps.DB).RuleAdd(c.Request().Context(), requestActor(c), r); err != nil {
		return s.adminProblem(c, templates.AdminTeamForm{}, err)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/teams")
}

// adminRuleDelete removes an ownership rule.
func (s *Server) adminRuleDelete(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	if err := governance.NewAdmin(s.deps.DB).RuleDelete(c.Request().Context(), requestActor(c), id); err != nil {
		return s.adminProblem(c, templates.AdminTeamForm{}, err)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/teams")
}

// adminOwnerSet sets or clears a cluster's explicit owner, by the
// cluster's name.
func (s *Server) adminOwnerSet(c echo.Context) error {
	ctx := c.Request().Context()
	name := strings.TrimSpace(c.FormValue("cluster"))
	list, err := inventory.ClusterByName(ctx, s.deps.DB, name)
	if err != nil {
		return err
	}
	if len(list) != 1 {
		return s.renderAdminTeams(c, http.StatusUnprocessableEntity, templates.AdminTeamForm{},
			"There is no single cluster named "+strconv.Quote(name)+"; set the owner from the cluster's exact name.")
	}
	if err := governance.NewAdmin(s.deps.DB).OwnerSet(ctx, requestActor(c), list[0].UID, c.FormValue("team")); err != nil {
		return s.adminProblem(c, templates.AdminTeamForm{}, err)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/teams")
}

// adminProblem re-shows the page with what is wrong (422), or passes a
// failure of the database on.
func (s *Server) adminProblem(c echo.Context, form templates.AdminTeamForm, err error) error {
	if !errors.Is(err, governance.ErrInvalid) && !errors.Is(err, governance.ErrNotFound) {
		return err
	}
	msg := err.Error()
	if _, detail, ok := strings.Cut(msg, governance.ErrInvalid.Error()+": "); ok {
		msg = detail
	} else if errors.Is(err, governance.ErrNotFound) {
		msg = "That team, rule or cluster does not exist (any more)."
	}
	return s.renderAdminTeams(c, http.StatusUnprocessableEntity, form, msg)
}
