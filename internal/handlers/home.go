package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// homeListShown bounds each list of the start page.
const homeListShown = 10

// home is the start page: the viewer's requests, those awaiting their
// approval (approvers) and the latest activity.
func (s *Server) home(c echo.Context) error {
	v := templates.HomeView{Greeting: "Welcome to Clusterdesk."}
	if s.deps.DB != nil {
		ctx := c.Request().Context()
		u, _ := auth.UserFrom(ctx)
		v.Lists, v.Approver = true, u.Has(auth.RoleApprover)
		mine, err := approvals.ListMine(ctx, s.deps.DB, u.ID, approvals.Page{Limit: homeListShown})
		if err != nil {
			return err
		}
		v.Mine = requestRows(mine)
		if v.Approver {
			awaiting, err := approvals.ListAwaiting(ctx, s.deps.DB, actorOf(c), approvals.Page{Limit: homeListShown})
			if err != nil {
				return err
			}
			v.Awaiting = requestRows(awaiting)
		}
		recent, err := approvals.ListRecent(ctx, s.deps.DB, approvals.Page{Limit: homeListShown})
		if err != nil {
			return err
		}
		v.Recent = requestRows(recent)
		if v.Counts, err = requestCounts(ctx, s.deps.DB); err != nil {
			return err
		}
		v.LiveURL = s.liveURL("/events/dashboard", dashboardKey(recent))
	}
	return s.ok(c, templates.Home(s.page(c, "Home"), v))
}
