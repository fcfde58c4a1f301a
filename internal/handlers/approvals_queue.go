package handlers

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// approvalsQueueShown is how many requests one page of the approver's
// queue lists.
const approvalsQueueShown = 100

// approvalsQueue lists the requests the viewer may approve now, as the
// domain decides: ListAwaiting applies Approve's own rule
// (approvals.Policy.Eligible: the approver role and a policy's group), so
// what the queue lists the approve action accepts and the reverse. It
// pages newest first by id (?before=ID, a keyset: each page reads its
// rows in the index of open requests, however deep).
func (s *Server) approvalsQueue(c echo.Context) error {
	var before int64
	if b := c.QueryParam("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("%w: that page link is broken: start again from the first page", approvals.ErrInvalid)
		}
		before = n
	}
	list, err := approvals.ListAwaiting(c.Request().Context(), s.deps.DB, actorOf(c),
		approvals.Page{Limit: approvalsQueueShown + 1, BeforeID: before})
	if err != nil {
		return err
	}
	v := templates.ApprovalsQueueView{}
	if before > 0 {
		v.NewestURL = "/approvals"
	}
	if len(list) > approvalsQueueShown {
		list = list[:approvalsQueueShown]
		v.OlderURL = "/approvals?before=" + strconv.FormatInt(list[len(list)-1].ID, 10)
	}
	v.Rows = requestRows(list)
	return s.ok(c, templates.ApprovalsQueuePage(s.page(c, "Awaiting your approval"), v))
}

func requestRows(list []approvals.Request) []templates.RequestRow {
	rows := make([]templates.RequestRow, 0, len(list))
	for _, r := range list {
		row := templates.RequestRow{
			ID: r.ID, Kind: strings.ReplaceAll(string(r.Kind), "_", " "), ClusterName: r.ClusterName, ClusterUID: r.ClusterUID,
			Requester: r.Requester.Name, State: requestStateText(r.State), StateCode: string(r.State), Filed: timeText(r.CreatedAt), Updated: timeText(r.UpdatedAt),
		}
		for _, risk := range r.Revision.Risks {
			row.Risks = append(row.Risks, risk.Message)
		}
		rows = append(rows, row)
	}
	return rows
}
