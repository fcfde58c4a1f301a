package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// navCountMost bounds the counts on the menu: "99" reads as "many".
const navCountMost = 99

// openStates are the states of a request that is not finished.
var openStates = []approvals.State{approvals.StatePending, approvals.StateStale, approvals.StateApproved,
	approvals.StateSubmitting, approvals.StateApplying}

// notifyCounts answers the menu badges' refresh (the layout's navBadges,
// on each "refresh" of the start page's stream): the requests awaiting the
// viewer's approval (the approvals queue's rule) and the viewer's open
// requests, swapped out of band into the menu.
func (s *Server) notifyCounts(c echo.Context) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	var counts templates.NavCounts
	var err error
	if a.Approver {
		if counts.Awaiting, err = approvals.Count(ctx, s.deps.DB, approvals.Filter{AwaitingFor: &a}, navCountMost); err != nil {
			return err
		}
	}
	if counts.Mine, err = approvals.Count(ctx, s.deps.DB, approvals.Filter{RequesterID: a.UserID, States: openStates}, navCountMost); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.ok(c, templates.NavCountsFragment(counts))
}
