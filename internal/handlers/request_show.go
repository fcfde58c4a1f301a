package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/governance"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// requestTimelineShown bounds the request page's timeline.
const requestTimelineShown = 100

// errNoApprovals: the portal was started without the request service.
var errNoApprovals = errors.New("handlers: change requests are not configured")

// requestShow is the page of one change request. For a viewer who may
// approve, it says how the request stands against the inventory's copy of
// the cluster and Cloud Manager's stored dry run (requestFreshness): when
// the cluster moved since the request's base, the page says so and offers
// no approval. A view never calls Cloud Manager.
func (s *Server) requestShow(c echo.Context) error {
	return s.renderRequest(c, http.StatusOK, templates.RequestDecisionForm{})
}

// requestID is the :id parameter; anything but a positive number is a 404.
func requestID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, approvals.ErrNotFound
	}
	return id, nil
}

// actorOf is the signed-in person as the request domain knows them, with
// the roles of their session: Approver is the role that shows the
// Approvals page, and the domain asks for it besides a policy's group
// (approvals.Policy.Eligible) before the queue lists a request, the page
// offers the approve button or a decision is taken.
func actorOf(c echo.Context) approvals.Actor {
	u, _ := auth.UserFrom(c.Request().Context()) // the request routes require sign-in
	return approvals.Actor{
		UserID: u.ID, Name: cmpOr(u.Name, u.Username), Groups: u.Groups,
		Approver: u.Has(auth.RoleApprover), Admin: u.Has(auth.RoleAdmin), Origin: auditOrigin(c),
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// renderRequest renders the request page with status, the decision forms
// holding form.
func (s *Server) renderRequest(c echo.Context, status int, form templates.RequestDecisionForm) error {
	if s.deps.Approvals == nil {
		return errNoApprovals
	}
	id, err := requestID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	viewer := actorOf(c)
	d, err := approvals.Detail(ctx, s.deps.DB, id)
	if err != nil {
		return err
	}
	takes, err := approvals.WhatItTakes(ctx, s.deps.DB, id, viewer)
	if err != nil && !errors.Is(err, approvals.ErrNoPolicy) {
		return err
	}
	noPolicy := errors.Is(err, approvals.ErrNoPolicy)
	if !noPolicy && takes.CanApprove() && s.deps.Approvals != nil {
		// The team's rules (governance) as Approve applies them.
		if err := s.deps.Approvals.MayApprove(ctx, viewer, d.Request, takes.Evaluation); errors.Is(err, approvals.ErrNotPermitted) {
			takes.Blocker = err
		} else if err != nil {
			return err
		}
	}
	r := d.Request
	v := requestShowView(d, takes)
	v.Form = form
	if v.History, err = requestHistoryView(ctx, s.deps.DB, d, viewer); err != nil {
		return err
	}
	if !noPolicy && r.State == approvals.StatePending {
		at, changed, err := approvals.PolicyChangedSince(ctx, s.deps.DB, takes.Policy.ID, r.CreatedAt)
		if err != nil {
			return err
		}
		if changed {
			v.Takes.PolicyChanged = fmt.Sprintf("An admin changed the policy %s on %s, after this request was filed: it was re-evaluated and now needs %d %s.",
				takes.Policy.Name, at.UTC().Format("2006-01-02 15:04 MST"), takes.Needed(), plural(takes.Needed(), "approval", "approvals"))
		}
	}
	if v.Emergency, err = s.emergencyBanner(c, r, viewer); err != nil {
		return err
	}
	if after := s.deps.RequestExpireAfter; after > 0 && (r.State == approvals.StatePending || r.State == approvals.StateStale) {
		v.Expires = "Requests nobody touches expire: unless someone edits or decides on this one, it expires at " +
			r.UpdatedAt.Add(after).UTC().Format("Mon 2006-01-02 15:04 MST") + "."
	}
	if r.State == approvals.StateApproved {
		hold, err := governance.HoldFor(ctx, s.deps.DB, r, time.Now())
		if err != nil {
			return err
		}
		if hold.Holds() {
			v.Waits = fmt.Sprintf("Approved, and waiting for %s: Clusterdesk sends it at %s.", hold.Why, hold.Until.UTC().Format("Mon 2006-01-02 15:04 MST"))
		}
	}
	if noPolicy {
		v.Takes.Blocker = "No approval policy matches this request, so nobody can approve it. An admin must add one."
	}
	if !noPolicy && takes.CanApprove() {
		// An approver whose approval expired renews it; they decided once.
		v.Takes.Renew = takes.ExpiredFor(viewer.UserID) != nil
		v.CanApprove, v.CanReject = true, !v.Takes.Renew
		// From PostgreSQL only: the cached cluster and the stored dry run
		// (request_spec_check.go).
		if err := s.requestFreshness(ctx, r, &v); err != nil {
			return err
		}
	}
	author := r.Requester.ID == viewer.UserID || viewer.Admin
	openForEdit := r.State == approvals.StatePending || r.State == approvals.StateStale
	v.CanEdit = author && openForEdit && r.Kind.SpecForm()
	v.CanRebase = author && r.State == approvals.StateStale && r.Kind.OnCluster()
	if v.CanEdit || v.CanRebase {
		// Editing and rebasing file a revision: the permission function
		// must let the viewer request it now.
		switch err := s.deps.Approvals.MayRevise(ctx, viewer, r); {
		case errors.Is(err, approvals.ErrNotPermitted):
			v.CanEdit, v.CanRebase = false, false
		case err != nil:
			return err
		}
	}
	v.CanCancel = author && slices.Contains([]approvals.State{approvals.StatePending, approvals.StateStale, approvals.StateApproved}, r.State) ||
		r.State == approvals.StateFailed && viewer.Admin
	v.CancelNeedsReason = v.CanCancel && r.Requester.ID != viewer.UserID
	v.Cancelled = requestCancelledView(d.Cancellation)

	if v.Timeline, err = s.requestTimeline(ctx, id); err != nil {
		return err
	}
	if v.Submission, err = s.requestSubmission(ctx, r); err != nil {
		return err
	}
	if v.ClusterUID == "" && v.Submission != nil {
		// A create names its cluster once Cloud Manager made it.
		v.ClusterUID = v.Submission.ClusterUID
	}
	v.CanResend = r.State == approvals.StateFailed && viewer.Admin && v.Submission != nil && !v.Submission.Accepted
	if v.Events, err = s.requestEvents(ctx, r); err != nil {
		return err
	}
	v.LiveURL = s.liveURL(fmt.Sprintf("/requests/%d/events", id), requestLiveKey(r))
	return s.render(c, status, templates.RequestShowPage(s.page(c, fmt.Sprintf("Request %d", id)), v))
}

// requestSubmission is the execution of the current revision, nil before
// its approval.
func (s *Server) requestSubmission(ctx context.Context, r approvals.Request) (*templates.RequestSubmissionView, error) {
	sub, err := execution.SubmissionGet(ctx, s.deps.DB, r.ID, r.Revision.Number)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := &templates.RequestSubmissionView{ClusterState: strings.ToLower(sub.ClusterState), Reason: sub.Reason, Accepted: !sub.AcceptedAt.IsZero(), ClusterUID: sub.ClusterUID,
		Applying: r.State == approvals.StateApplying}
	if sub.TotalStages > 0 {
		v.Progress = fmt.Sprintf("Stage %d of %d.", sub.CurrentStage, sub.TotalStages)
		v.CurrentStage, v.TotalStages = sub.CurrentStage, sub.TotalStages
	}
	attempts, err := execution.AttemptList(ctx, s.deps.DB, r.ID, r.Revision.Number)
	if err != nil {
		return nil, err
	}
	for _, a := range attempts {
		v.Attempts = append(v.Attempts, templates.RequestAttemptRow{
			Number: a.Number, Operation: a.Operation, Outcome: a.Outcome, Error: a.Error, Status: a.Status, At: timeText(a.StartedAt),
		})
	}
	return v, nil
}

// requestStateText says a state for people, in the one vocabulary of
// states (templates.RequestState).
func requestStateText(st approvals.State) string { return templates.RequestState(string(st)).Label }

func requestShowView(d approvals.Details, takes approvals.Requirements) templates.RequestShowView {
	r := d.Request
	v := templates.RequestShowView{
		ID: r.ID, Kind: strings.ReplaceAll(string(r.Kind), "_", " "), ClusterUID: r.ClusterUID, ClusterName: r.ClusterName,
		Requester: r.Requester.Name, State: requestStateText(r.State), StateCode: string(r.State),
		Revision: r.Revision.Number, FiledAt: timeText(r.CreatedAt), Reason: r.Revision.Reason,
		HasBase: r.Revision.HasBase, BaseResourceVersion: r.Revision.BaseResourceVersion,
	}
	for _, risk := range r.Revision.Risks {
		v.Risks = append(v.Risks, risk.Message)
	}
	v.Plan = planView(approvals.PlanOf(r.Kind, r.ClusterName, r.Revision))
	v.Diff = specDiffRows(r.Revision.Diff, r.Revision.Risks, r.Revision.ProposedSpec)
	if r.Revision.Payload.InstanceID != "" {
		v.Diff = append(v.Diff, restartRow(r.Revision.Payload))
	}
	v.HardUpdate = r.Revision.Payload.HardUpdate
	v.RestartsServer, v.RestartsServerText = r.Revision.Payload.InstanceID, r.Revision.Payload.Server.String()
	e := takes.Evaluation
	v.Takes = templates.RequestTakesView{
		Policy: e.Policy.Name, PolicyDescription: e.Policy.Description,
		Needed: e.Needed(), Given: e.Given(), Groups: joinOr(e.Policy.ApproverGroups, "no group"),
	}
	counts := map[int64]bool{}
	for _, a := range e.Approvals {
		v.Takes.ApprovedBy = append(v.Takes.ApprovedBy, a.Approver.Name)
		counts[a.ID] = true
	}
	v.Takes.MaxAge = approvalAgeText(e.Policy.ApprovalMaxAge)
	if r.State == approvals.StatePending || r.State == approvals.StateApproved {
		v.Takes.ExpiresAt = timeText(e.ExpiresAt)
	}
	expired := map[int64]bool{}
	for _, a := range e.Expired {
		expired[a.ID] = true
		if r.State == approvals.StatePending {
			v.Takes.Expired = append(v.Takes.Expired, templates.RequestExpiredApproval{Approver: a.Approver.Name, At: timeText(a.ExpiresAt(e.Policy))})
		}
	}
	if r.State == approvals.StateApproved && len(e.Expired) > 0 && !e.Complete() {
		v.Takes.ReturnsToApprovers = "Approvals of this change expired before it was sent: when its turn comes, it goes back to its approvers for a fresh approval instead."
	}
	if takes.Blocker != nil {
		v.Takes.Blocker = blockerText(takes.Blocker, r)
	}
	for _, o := range takes.Overlaps {
		v.Takes.Overlaps = append(v.Takes.Overlaps, overlapView(o))
	}
	if takes.MoreOverlaps {
		// The first few are listed; the requests list has them all.
		v.Takes.MoreOverlapsURL = openRequestsURL(r.ClusterName)
	}
	for _, dec := range d.Decisions {
		word := "approved"
		if dec.Decision == approvals.DecisionReject {
			word = "rejected"
		}
		v.Decisions = append(v.Decisions, templates.RequestDecisionRow{
			Approver: dec.Approver.Name, Decision: word, Comment: dec.Comment, Groups: strings.Join(dec.Groups, ", "),
			Revision: dec.Revision, At: timeText(dec.CreatedAt), Counts: counts[dec.ID],
			Expired: expired[dec.ID], Renewed: timeText(dec.RenewedAt),
		})
	}
	return v
}

// blockerText says why the viewer may not approve, in words.
func blockerText(err error, r approvals.Request) string {
	switch {
	case errors.Is(err, approvals.ErrNotPermitted):
		return "You cannot approve this request: " + approvals.RefusalReason(err) + "."
	case errors.Is(err, approvals.ErrOwnRequest):
		return "You filed or edited this request, so you cannot approve or reject it: someone else must (four eyes)."
	case errors.Is(err, approvals.ErrNoApproverRole):
		return "You do not hold the approver role, so you cannot approve or reject requests."
	case errors.Is(err, approvals.ErrNotEligible):
		return "You are not in an approver group of this request's policy, so you cannot approve it."
	case errors.Is(err, approvals.ErrStale):
		return "The cluster changed since this request was made: the requester must rebase it before anyone can approve it."
	case errors.Is(err, approvals.ErrCollision):
		return "An earlier open request changes the same fields: this one can be approved once that one is finished and this one is rebased."
	case errors.Is(err, approvals.ErrConflict):
		return "You have already decided on this revision."
	case errors.Is(err, approvals.ErrInvalidTransition):
		return "This request is " + strings.ToLower(requestStateText(r.State)) + ": it takes no more decisions."
	}
	return "You cannot approve this request now."
}

func joinOr(list []string, none string) string {
	if len(list) == 0 {
		return none
	}
	return strings.Join(list, ", ")
}
