package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

func requestIDParam(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, approvals.ErrNotFound
	}
	return id, nil
}

func isNoPolicy(err error) bool { return errors.Is(err, approvals.ErrNoPolicy) }

// RequestPage is one page of requests, newest first, with the cursors of
// the pages on either side (pass as ?older or ?newer).
type RequestPage struct {
	Items []RequestSummary `json:"items"`
	Older string           `json:"older,omitempty"`
	Newer string           `json:"newer,omitempty"`
}

// requestList lists requests with the requests page's filters: mine,
// awaiting (my approval), cluster, state (repeat or comma-separate),
// kind, person, filed_from and filed_before (RFC 3339 or a date).
func (s *Server) requestList(c echo.Context) error {
	limit, err := pageSize(c)
	if err != nil {
		return err
	}
	q := c.QueryParams()
	actor := actorOf(c)
	f := approvals.Filter{ClusterName: q.Get("cluster"), Kind: approvals.Kind(q.Get("kind")), Person: q.Get("person")}
	if q.Get("mine") == "true" {
		f.RequesterID = actor.UserID
	}
	if q.Get("awaiting") == "true" {
		f.AwaitingFor = &actor
	}
	if f.Kind != "" && !f.Kind.Supported() {
		return fieldProblem(http.StatusBadRequest, "invalid-parameter", "kind", "unknown kind")
	}
	for _, v := range q["state"] {
		for st := range strings.SplitSeq(v, ",") {
			state := approvals.State(strings.TrimSpace(st))
			if !state.Valid() {
				return fieldProblem(http.StatusBadRequest, "invalid-parameter", "state", "unknown state "+strconv.Quote(st))
			}
			f.States = append(f.States, state)
		}
	}
	for name, into := range map[string]*time.Time{"filed_from": &f.FiledFrom, "filed_before": &f.FiledBefore} {
		if raw := q.Get(name); raw != "" {
			t, err := parseTime(raw)
			if err != nil {
				return fieldProblem(http.StatusBadRequest, "invalid-parameter", name, "a time in RFC 3339 or a date (2006-01-02)")
			}
			*into = t
		}
	}
	var at approvals.Cursor
	if key := cmpOr(q.Get("older"), q.Get("newer")); key != "" {
		if at, err = approvals.ParseCursor(key, q.Get("older") == ""); err != nil {
			return fieldProblem(http.StatusBadRequest, "invalid-parameter", "older", "that cursor is not one this API gave")
		}
	}
	l, err := approvals.List(c.Request().Context(), s.deps.DB, f, at, limit)
	if err != nil {
		return err
	}
	page := RequestPage{Items: []RequestSummary{}}
	for _, r := range l.Requests {
		page.Items = append(page.Items, summaryOf(r.Request, r.Needed, r.Given))
	}
	if l.Older != nil {
		page.Older = l.Older.Key()
	}
	if l.Newer != nil {
		page.Newer = l.Newer.Key()
	}
	return c.JSON(http.StatusOK, page)
}

func parseTime(raw string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, raw); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, raw)
}

// requestGet answers a request with an ETag of its revision.
func (s *Server) requestGet(c echo.Context) error {
	id, err := requestIDParam(c)
	if err != nil {
		return err
	}
	view, err := s.requestView(c.Request().Context(), id, actorOf(c))
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etagOf(id, view.Revision))
	return c.JSON(http.StatusOK, view)
}

// EditRequest is the body of PATCH /requests/{id}: a new revision. The
// revision edited comes from If-Match (the ETag of a GET), so an edit made
// on what someone else has since revised is refused (412).
type EditRequest struct {
	Reason              string                `json:"reason"`
	Name                string                `json:"name,omitempty"`
	Spec                *cloudapi.ClusterSpec `json:"spec,omitempty"`
	InstanceID          string                `json:"instance_id,omitempty"`
	SeenResourceVersion *int64                `json:"seen_resource_version,omitempty"`
	HardUpdate          bool                  `json:"hard_update,omitempty"`
}

// ifMatchRevision reads If-Match: the ETag of request id; required.
func ifMatchRevision(c echo.Context, id int64) (int, error) {
	raw := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if raw == "" {
		return 0, problem(http.StatusPreconditionRequired, "if-match-required", "Send If-Match with the ETag of the request as you read it.")
	}
	tag := strings.Trim(strings.TrimPrefix(raw, "W/"), `"`)
	rid, rev, ok := strings.Cut(tag, "-")
	n, err := strconv.Atoi(rev)
	if !ok || rid != strconv.FormatInt(id, 10) || err != nil || n <= 0 {
		return 0, problem(http.StatusPreconditionFailed, "stale-revision", "If-Match is not an ETag of this request.")
	}
	return n, nil
}

// requestEdit makes a new revision (the requester, or an admin), checked
// as filing is, after If-Match.
func (s *Server) requestEdit(c echo.Context) error {
	id, err := requestIDParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	r, err := approvals.Get(ctx, s.deps.DB, id)
	if err != nil {
		return err
	}
	revision, err := ifMatchRevision(c, id)
	if err != nil {
		return err
	}
	if revision != r.Revision.Number {
		c.Response().Header().Set("ETag", etagOf(id, r.Revision.Number))
		return problem(http.StatusPreconditionFailed, "stale-revision", "The request has a newer revision than the one in If-Match; read it again.")
	}
	var in EditRequest
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if err := checkReason(in.Reason); err != nil {
		return err
	}
	var cl *inventory.Cluster
	if r.Kind.OnCluster() {
		got, err := s.refreshed(ctx, r.ClusterUID, true)
		if err != nil {
			return err
		}
		cl = &got
	}
	if in.Spec != nil {
		nr := approvals.NewRequest{Kind: r.Kind, ClusterUID: r.ClusterUID, Name: cmpOr(in.Name, r.ClusterName), Spec: in.Spec, HardUpdate: in.HardUpdate}
		if _, err := s.checkProposal(ctx, r.Kind, cl, nr); err != nil {
			return err
		}
	}
	edited, err := s.deps.Approvals.Edit(ctx, actorOf(c), id, approvals.Edit{Revision: revision, Reason: in.Reason, Name: in.Name,
		Spec: in.Spec, InstanceID: in.InstanceID, SeenResourceVersion: in.SeenResourceVersion, HardUpdate: in.HardUpdate})
	if errors.Is(err, approvals.ErrConflict) && !errors.Is(err, approvals.ErrCollision) {
		if now, gerr := approvals.Get(ctx, s.deps.DB, id); gerr == nil && now.Revision.Number != revision {
			return problem(http.StatusPreconditionFailed, "stale-revision", "The request got a newer revision meanwhile; read it again.")
		}
	}
	if err != nil {
		return err
	}
	return s.answerRequest(c, edited.ID, http.StatusOK)
}

func (s *Server) answerRequest(c echo.Context, id int64, status int) error {
	view, err := s.requestView(c.Request().Context(), id, actorOf(c))
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etagOf(id, view.Revision))
	return c.JSON(status, view)
}

// requestRebase moves a request onto the cluster's current version,
// refreshed first, as the page's rebase button does.
func (s *Server) requestRebase(c echo.Context) error {
	id, err := requestIDParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	r, err := approvals.Get(ctx, s.deps.DB, id)
	if err != nil {
		return err
	}
	if r.Kind.OnCluster() {
		if _, err := s.refreshed(ctx, r.ClusterUID, true); err != nil && !errors.Is(err, inventory.ErrNotFound) {
			return err
		}
	}
	if _, err := s.deps.Approvals.Rebase(ctx, actorOf(c), id); err != nil {
		return err
	}
	return s.answerRequest(c, id, http.StatusOK)
}

// CancelRequest is the body of POST /requests/{id}/cancel.
type CancelRequest struct {
	// Reason is required of an admin cancelling someone else's request.
	Reason string `json:"reason,omitempty"`
}

func (s *Server) requestCancel(c echo.Context) error {
	id, err := requestIDParam(c)
	if err != nil {
		return err
	}
	var in CancelRequest
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if _, err := s.deps.Approvals.Cancel(c.Request().Context(), actorOf(c), id, strings.TrimSpace(in.Reason)); err != nil {
		if errors.Is(err, approvals.ErrCancelNeedsReason) {
			return fieldProblem(http.StatusUnprocessableEntity, "invalid", "reason", "Say why you cancel someone else's request: its requester reads it.")
		}
		return err
	}
	return s.answerRequest(c, id, http.StatusOK)
}
