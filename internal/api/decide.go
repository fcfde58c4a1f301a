package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// DecideRequest is the body of approve and reject: the revision reviewed
// (or If-Match with the request's ETag) and a comment, required to reject.
type DecideRequest struct {
	Revision int    `json:"revision,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// commentMax is the forms' bound on a decision's comment.
const commentMax = 2000

// errCloudUnreachable: the cluster could not be re-read before an approval.
var errCloudUnreachable = problem(http.StatusServiceUnavailable, "cloud-unreachable",
	"Cloud Manager could not be reached to re-read the cluster, so nothing was approved. Try again in a minute.")

func bindDecision(c echo.Context, id int64) (DecideRequest, error) {
	var in DecideRequest
	if err := decodeBody(c, &in); err != nil {
		return in, err
	}
	in.Comment = strings.TrimSpace(in.Comment)
	if len(in.Comment) > commentMax {
		return in, fieldProblem(http.StatusUnprocessableEntity, "invalid", "comment", fmt.Sprintf("Keep the comment under %d characters.", commentMax))
	}
	if in.Revision == 0 {
		rev, err := ifMatchRevision(c, id)
		if err != nil {
			return in, fieldProblem(http.StatusUnprocessableEntity, "invalid", "revision", "Name the revision you reviewed (revision, or If-Match with the ETag).")
		}
		in.Revision = rev
	}
	return in, nil
}

// requestApprove approves the revision reviewed, after re-reading the
// live cluster, as the page's approve button does; the domain decides
// who may (policy, four-eyes against the token's owner). An approval
// already given answers 200 as the first did.
func (s *Server) requestApprove(c echo.Context) error {
	id, err := requestIDParam(c)
	if err != nil {
		return err
	}
	in, err := bindDecision(c, id)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	r, err := approvals.Get(ctx, s.deps.DB, id)
	if err != nil {
		return err
	}
	approve := approvals.Approve{Revision: in.Revision, Comment: in.Comment}
	if r.Revision.HasBase {
		if approve.LiveResourceVersion, err = s.liveResourceVersion(c, r.ClusterUID); err != nil {
			return err
		}
	}
	if _, err := s.deps.Approvals.Approve(ctx, actorOf(c), id, approve); err != nil {
		return err
	}
	return s.answerRequest(c, id, http.StatusOK)
}

// liveResourceVersion re-reads the cluster from Cloud Manager, or, without
// a syncer, takes the inventory's copy.
func (s *Server) liveResourceVersion(c echo.Context, uid string) (int64, error) {
	ctx := c.Request().Context()
	if s.deps.Inventory != nil {
		cl, err := s.deps.Inventory.Refresh(ctx, uid)
		if err != nil && !errors.Is(err, inventory.ErrNotFound) {
			s.logger.WarnContext(ctx, "re-reading a cluster before an approval failed", "cluster", uid, "err", err)
			return 0, errCloudUnreachable
		}
		return cl.ResourceVersion, err
	}
	cl, err := inventory.ClusterGet(ctx, s.deps.DB, uid)
	return cl.ResourceVersion, err
}

// requestReject rejects the revision reviewed; the comment is required.
func (s *Server) requestReject(c echo.Context) error {
	id, err := requestIDParam(c)
	if err != nil {
		return err
	}
	in, err := bindDecision(c, id)
	if err != nil {
		return err
	}
	if in.Comment == "" {
		return fieldProblem(http.StatusUnprocessableEntity, "invalid", "comment", "Say why you reject the request: the requester reads it.")
	}
	if _, err := s.deps.Approvals.Reject(c.Request().Context(), actorOf(c), id, approvals.Reject{Revision: in.Revision, Comment: in.Comment}); err != nil {
		return err
	}
	return s.answerRequest(c, id, http.StatusOK)
}
