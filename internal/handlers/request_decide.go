package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// errCloudUnreachable: the cluster could not be re-read before an approval.
var errCloudUnreachable = errors.New("handlers: cannot re-read the cluster from Cloud Manager")

// decisionForm is what the decision forms post. Only these fields are read:
// the state, the requester and the like come from the domain, never from
// the form.
type decisionForm struct {
	Revision int
	Comment  string
}

// commentMax bounds a decision comment.
const commentMax = 2000

func bindDecision(c echo.Context) decisionForm {
	rev, _ := strconv.Atoi(c.FormValue("revision"))
	return decisionForm{Revision: rev, Comment: strings.TrimSpace(c.FormValue("comment"))}
}

func (s *Server) requestRedirect(c echo.Context, id int64) error {
	return c.Redirect(http.StatusSeeOther, "/requests/"+strconv.FormatInt(id, 10))
}

// requestApprove approves the revision the approver reviewed, after
// re-reading the live cluster. A repeated approval (a double click) is no
// error: both answers redirect to the request. The route is open to every
// signed-in person: the domain decides who may decide
// (approvals.Policy.Eligible, the rule behind the approvals queue and the
// approve button too), and a refusal is a 403.
func (s *Server) requestApprove(c echo.Context) error {
	if s.deps.Approvals == nil {
		return errNoApprovals
	}
	id, err := requestID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	f := bindDecision(c)
	if len(f.Comment) > commentMax {
		return echo.NewHTTPError(http.StatusUnprocessableEntity)
	}
	r, err := approvals.Get(ctx, s.deps.DB, id)
	if err != nil {
		return err
	}
	in := approvals.Approve{Revision: f.Revision, Comment: f.Comment}
	if r.Revision.HasBase {
		if in.LiveResourceVersion, err = s.liveResourceVersion(c, r.ClusterUID); err != nil {
			return err
		}
	}
	if _, err := s.deps.Approvals.Approve(ctx, actorOf(c), id, in); err != nil {
		return err
	}
	return s.requestRedirect(c, id)
}

// liveResourceVersion re-reads the cluster from Cloud Manager, or, without
// a syncer, takes the inventory's copy.
func (s *Server) liveResourceVersion(c echo.Context, uid string) (int64, error) {
	ctx := c.Request().Context()
	if s.deps.Inventory != nil {
		cl, err := s.deps.Inventory.Refresh(ctx, uid)
		if err != nil && !errors.Is(err, inventory.ErrNotFound) {
			return 0, fmt.Errorf("%w: %w", errCloudUnreachable, err)
		}
		return cl.ResourceVersion, err
	}
	cl, err := inventory.ClusterGet(ctx, s.deps.DB, uid)
	return cl.ResourceVersion, err
}

// requestReject rejects the reviewed revision; the comment is required; a
// form without one comes back (422) with the message on the field.
func (s *Server) requestReject(c echo.Context) error {
	if s.deps.Approvals == nil {
		return errNoApprovals
	}
	id, err := requestID(c)
	if err != nil {
		return err
	}
	f := bindDecision(c)
	form := templates.RequestDecisionForm{Comment: f.Comment}
	switch {
	case f.Comment == "":
		form.Errors = map[string]string{"comment": "Say why you reject the request: the requester reads it."}
	case len(f.Comment) > commentMax:
		form.Errors = map[string]string{"comment": "Keep the comment under " + strconv.Itoa(commentMax) + " characters."}
	}
	if form.Errors != nil {
		return s.renderRequest(c, http.StatusUnprocessableEntity, form)
	}
	actor := actorOf(c)
	_, err = s.deps.Approvals.Reject(c.Request().Context(), actor, id, approvals.Reject{Revision: f.Revision, Comment: f.Comment})
	if errors.Is(err, approvals.ErrConflict) && s.alreadyDecided(c, id, actor.UserID, f.Revision, approvals.DecisionReject) {
		return s.requestRedirect(c, id) // a double submit
	}
	if errors.Is(err, approvals.ErrInvalid) && !errors.Is(err, approvals.ErrForbidden) {
		form.Errors = map[string]string{"comment": "Say why you reject the request: the requester reads it."}
		return s.renderRequest(c, http.StatusUnprocessableEntity, form)
	}
	if err != nil {
		return err
	}
	return s.requestRedirect(c, id)
}

// requestCancel withdraws a request: its requester, or an admin (who also
// closes failed ones, and says why when the request is someone else's).
// The form must confirm ("Yes, cancel request N", ticked by hand without
// JavaScript, by the confirmation dialog with it); a form without the
// confirmation or a needed reason comes back (422) with the message on
// its field, and nothing is cancelled.
func (s *Server) requestCancel(c echo.Context) error {
	if s.deps.Approvals == nil {
		return errNoApprovals
	}
	id, err := requestID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	f := bindDecision(c)
	r, err := approvals.Get(ctx, s.deps.DB, id)
	if err != nil {
		return err
	}
	// Who may not cancel is told so (403) before anything about the form.
	if err := approvals.CheckCancel(r, actorOf(c), f.Comment); errors.Is(err, approvals.ErrForbidden) {
		return err
	}
	form := templates.RequestDecisionForm{CancelReason: f.Comment, Errors: map[string]string{}}
	if len(f.Comment) > commentMax {
		form.Errors["cancel_reason"] = "Keep the reason under " + strconv.Itoa(commentMax) + " characters."
	}
	if c.FormValue("confirm") != "yes" {
		form.Errors["cancel_confirm"] = "Tick “Yes, cancel request " + strconv.FormatInt(id, 10) + "” to confirm: nothing was cancelled."
	}
	if len(form.Errors) == 0 {
		_, err = s.deps.Approvals.Cancel(ctx, actorOf(c), id, f.Comment)
		switch {
		case errors.Is(err, approvals.ErrCancelNeedsReason):
			form.Errors["cancel_reason"] = "Say why you cancel someone else's request: its requester reads it."
		case errors.Is(err, approvals.ErrInvalidTransition):
			// A double submit finds the request cancelled already.
			if now, gerr := approvals.Get(ctx, s.deps.DB, id); gerr == nil && now.State == approvals.StateCancelled {
				return s.requestRedirect(c, id)
			}
			return err
		case err != nil:
			return err
		default:
			return s.requestRedirect(c, id)
		}
	}
	return s.renderRequest(c, http.StatusUnprocessableEntity, form)
}

// requestResend sends a failed change again (an admin's decision, with an
// optional comment).
func (s *Server) requestResend(c echo.Context) error {
	if s.deps.Resend == nil {
		return errNoApprovals
	}
	return s.commentedAction(c, func(ctx context.Context, a approvals.Actor, id int64, comment string) error {
		_, err := s.deps.Resend(ctx, a, id, comment)
		if errors.Is(err, execution.ErrAccepted) {
			return echo.NewHTTPError(http.StatusConflict, "Cloud Manager accepted this change, so it is not sent again. File a new request instead.")
		}
		return err
	})
}

// commentedAction runs act on the request of the path with the posted
// optional comment, then goes back to the request's page.
func (s *Server) commentedAction(c echo.Context, act func(ctx context.Context, a approvals.Actor, id int64, comment string) error) error {
	id, err := requestID(c)
	if err != nil {
		return err
	}
	f := bindDecision(c)
	if len(f.Comment) > commentMax {
		return echo.NewHTTPError(http.StatusUnprocessableEntity)
	}
	if err := act(c.Request().Context(), actorOf(c), id, f.Comment); err != nil {
		return err
	}
	return s.requestRedirect(c, id)
}

// alreadyDecided reports whether user made decision d on the revision of
// request id: the answer to a repeated form post.
func (s *Server) alreadyDecided(c echo.Context, id, user int64, revision int, d approvals.Decision) bool {
	detail, err := approvals.Detail(c.Request().Context(), s.deps.DB, id)
	if err != nil {
		return false
	}
	for _, dec := range detail.Decisions {
		if dec.Approver.ID == user && dec.Revision == revision && dec.Decision == d {
			return true
		}
	}
	return false
}
