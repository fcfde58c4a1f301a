package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// What a request's page says happened to it: the timeline, the cluster's
// events, who cancelled it. The first draw (renderRequest) and the live
// redraw (drawRequest) both read them here.

// requestEventsShown bounds the cluster events on a request's page.
const requestEventsShown = 200

// requestTimeline is the newest audit events about request id, newest
// first like every list of what happened on the page, in words
// (templates.RequestActionText).
func (s *Server) requestTimeline(ctx context.Context, id int64) ([]templates.RequestTimelineRow, error) {
	page, err := audit.List(ctx, s.deps.DB, audit.Filter{SubjectType: audit.SubjectRequest, SubjectID: strconv.FormatInt(id, 10)},
		audit.PageRequest{Limit: requestTimelineShown})
	if err != nil {
		return nil, err
	}
	rows := make([]templates.RequestTimelineRow, 0, len(page.Entries))
	for _, e := range page.Entries {
		rows = append(rows, requestTimelineRow(e))
	}
	return rows, nil
}

func requestTimelineRow(e audit.Entry) templates.RequestTimelineRow {
	var data map[string]any
	_ = json.Unmarshal(e.Data, &data) // canonical JSON written by Append; a non-object says no details
	actor := cmpOr(e.Actor.Name, e.Actor.ID)
	if e.Actor.Type == audit.ActorSystem {
		actor = "Clusterdesk"
	}
	t := templates.RequestActionText(string(e.Action), actor, data)
	return templates.RequestTimelineRow{Seq: e.Seq, At: timeText(e.At), Sentence: t.Sentence, Quote: t.Quote, State: t.State}
}

// requestEvents are the cluster events of request r since its current
// revision was approved (the events before it are the cluster's own
// history, not this change's), newest first as on the cluster's page;
// none before an approval.
func (s *Server) requestEvents(ctx context.Context, r approvals.Request) ([]templates.ClusterEventRow, error) {
	sub, err := execution.SubmissionGet(ctx, s.deps.DB, r.ID, r.Revision.Number)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	list, err := execution.ClusterEventList(ctx, s.deps.DB, execution.ClusterEventFilter{
		RequestID: r.ID, Since: sub.ApprovedAt, NewestFirst: true, Limit: requestEventsShown})
	if err != nil {
		return nil, err
	}
	rows := make([]templates.ClusterEventRow, 0, len(list))
	for _, e := range list {
		rows = append(rows, templates.ClusterEventRow{
			At: timeText(e.At), Level: strings.ToLower(e.Level), Source: e.Source, Message: e.Message,
		})
	}
	return rows, nil
}

// requestCancelled is who cancelled r, when and why; nil unless r is
// cancelled.
func (s *Server) requestCancelled(ctx context.Context, r approvals.Request) (*templates.RequestCancelledView, error) {
	if r.State != approvals.StateCancelled {
		return nil, nil
	}
	c, err := approvals.CancellationGet(ctx, s.deps.DB, r.ID)
	if errors.Is(err, approvals.ErrNotFound) {
		return nil, nil // cancelled before cancellations were kept, without an audit event to tell
	}
	if err != nil {
		return nil, err
	}
	return requestCancelledView(&c), nil
}

// requestCancelledView is c for the page; nil for nil.
func requestCancelledView(c *approvals.Cancellation) *templates.RequestCancelledView {
	if c == nil {
		return nil
	}
	return &templates.RequestCancelledView{By: c.By.Name, At: timeText(c.At), Reason: c.Reason, ByAdmin: c.ByAdmin}
}
