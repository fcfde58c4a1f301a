package handlers

import (
	"errors"
	"fmt"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/governance"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// Values of the cluster list's team filter besides a team's name.
const (
	teamFilterMine    = "mine"    // the teams the person belongs to
	teamFilterAll     = "all"     // every cluster
	teamFilterUnowned = "unowned" // clusters no defined team owns
)

// clusterTeams reads the list's team filter (?team=) into q: a team,
// "mine", "unowned" or "all". With no parameter at all a person in a team
// sees "My clusters". Without teams there is no filter to offer.
func (s *Server) clusterTeams(c echo.Context, q *clusterQuery) error {
	teams, err := governance.TeamList(c.Request().Context(), s.deps.DB)
	if err != nil || len(teams) == 0 {
		return err
	}
	u, _ := auth.UserFrom(c.Request().Context())
	mine := governance.MemberOf(teams, u.Groups)
	param := c.QueryParam("team")
	if param == "" && len(c.QueryParams()) == 0 && len(mine) > 0 {
		param = teamFilterMine
	}
	f := &q.filter
	switch param {
	case "", teamFilterAll:
		param = ""
	case teamFilterMine:
		f.Teams = mine
	case teamFilterUnowned:
		for _, t := range teams {
			f.NotTeams = append(f.NotTeams, t.Name)
		}
	default:
		found := false
		for _, t := range teams {
			found = found || t.Name == param
		}
		if !found {
			q.form.Errors["team"] = fmt.Sprintf("There is no team %q.", param)
			param = ""
		} else {
			f.Team = param
		}
	}
	q.form.TeamParam = param
	q.form.Teams = []templates.ClusterOption{{Value: teamFilterAll, Label: "all teams", Selected: param == ""}}
	if len(mine) > 0 {
		q.form.Teams = append(q.form.Teams, templates.ClusterOption{Value: teamFilterMine, Label: "My clusters", Selected: param == teamFilterMine})
	}
	for _, t := range teams {
		q.form.Teams = append(q.form.Teams, templates.ClusterOption{Value: t.Name, Label: t.Name, Selected: param == t.Name})
	}
	if u.Has(auth.RoleAdmin) || param == teamFilterUnowned {
		q.form.Teams = append(q.form.Teams, templates.ClusterOption{Value: teamFilterUnowned, Label: "unowned", Selected: param == teamFilterUnowned})
	}
	return nil
}

// permittedOperations keeps the request buttons of cluster uid that the
// signed-in person may use: the approvals service asks the one permission
// function (governance), as filing the request would. perViewer is true
// when teams are defined: the buttons then depend on who looks.
func (s *Server) permittedOperations(c echo.Context, uid string, ops []templates.ClusterOperation) (_ []templates.ClusterOperation, perViewer bool, _ error) {
	if s.deps.Approvals == nil {
		return ops, false, nil
	}
	ctx := c.Request().Context()
	if governed, err := governance.Defined(ctx, s.deps.DB); err != nil || !governed {
		return ops, false, err
	}
	if len(ops) == 0 {
		return ops, true, nil
	}
	cl, err := inventory.ClusterGet(ctx, s.deps.DB, uid)
	if err != nil {
		return nil, true, err
	}
	a := requestActor(c)
	var out []templates.ClusterOperation
	for _, o := range ops {
		err := s.deps.Approvals.MayRequest(ctx, a, cl, approvals.Kind(o.Kind))
		switch {
		case err == nil:
			out = append(out, o)
		case !errors.Is(err, approvals.ErrNotPermitted):
			return nil, true, err
		}
	}
	return out, true, nil
}

// permitOnCluster guards the requesters' routes on a cluster (:uid): the
// form and the filing of a kind the person may not request are refused
// with the reason (403), whoever forged the POST. The kind comes from the
// route, or from ?kind= and the form for the simple requests. Without
// teams it lets everything through, as the global roles did.
func (s *Server) permitOnCluster(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		uid := c.Param("uid")
		if uid == "" || s.deps.Approvals == nil {
			return next(c)
		}
		ctx := c.Request().Context()
		governed, err := governance.Defined(ctx, s.deps.DB)
		if err != nil {
			return err
		}
		if !governed {
			return next(c)
		}
		kind := routeKind(c)
		if kind == "" {
			return next(c) // an unknown kind: the handler answers 404
		}
		cl, err := inventory.ClusterGet(ctx, s.deps.DB, uid)
		if err != nil {
			return next(c) // the handler says the cluster is unknown
		}
		if err := s.deps.Approvals.MayRequest(ctx, requestActor(c), cl, kind); err != nil {
			return err
		}
		return next(c)
	}
}

// routeKind is the kind of request a requester's route on a cluster files.
func routeKind(c echo.Context) approvals.Kind {
	path := c.Path()
	switch {
	case strings.HasPrefix(path, "/clusters/:uid/update"):
		return approvals.KindUpdate
	case strings.HasPrefix(path, "/clusters/:uid/replace"):
		return approvals.KindReplace
	case strings.HasPrefix(path, "/clusters/:uid/versions/:rv/rollback"):
		return approvals.KindRollback
	case path == "/clusters/:uid/requests/new":
		return approvals.Kind(c.QueryParam("kind"))
	case path == "/clusters/:uid/requests":
		return approvals.Kind(c.FormValue("kind"))
	}
	return ""
}
