package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// Problem is an error as RFC 9457 says: a type URI, a title, the status, a
// detail for this occurrence; Errors lists per-field problems with the API
// path of the field (target, e.g. spec.data.tier1.replicas) and the name
// of the form's field that shows it (field), as the forms place them.
type Problem struct {
	Type     string         `json:"type"`
	Title    string         `json:"title"`
	Status   int            `json:"status"`
	Detail   string         `json:"detail,omitempty"`
	Instance string         `json:"instance,omitempty"`
	Code     string         `json:"code"`
	Errors   []FieldProblem `json:"errors,omitempty"`
}

// FieldProblem is one field's problem.
type FieldProblem struct {
	Target  string `json:"target"`
	Field   string `json:"field,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

func (p *Problem) Error() string { return fmt.Sprintf("api: %d %s: %s", p.Status, p.Code, p.Detail) }

// problemTypeBase makes a problem's code a URI (RFC 9457 §3.1.1); the
// document at docs/api.md lists them.
const problemTypeBase = "https://clusterdesk.dev/problems/"

// problem returns a Problem with status and code.
func problem(status int, code, detail string) *Problem {
	return &Problem{Type: problemTypeBase + code, Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

// errorProblems maps domain errors to problems, first match wins, in the
// order of the pages' table (handlers/errors.go) so that both answer a
// refusal with the same status.
var errorProblems = []struct {
	err    error
	status int
	code   string
	detail string
}{
	{audit.ErrNotFound, http.StatusNotFound, "not-found", "There is no audit event with this number."},
	{inventory.ErrNotFound, http.StatusNotFound, "not-found", "There is no cluster with this id."},
	{approvals.ErrNotFound, http.StatusNotFound, "not-found", "There is no change request with this number."},
	{approvals.ErrOwnRequest, http.StatusForbidden, "four-eyes", "The requester and the editors of a request may not decide on it: someone else must (four eyes)."},
	{approvals.ErrNoApproverRole, http.StatusForbidden, "no-approver-role", "The token's owner does not hold the approver role."},
	{approvals.ErrNotEligible, http.StatusForbidden, "not-eligible", "The token's owner is not in an approver group of this request's policy."},
	{approvals.ErrNotPermitted, http.StatusForbidden, "not-permitted", "The team rules do not let the token's owner do this on this cluster."},
	{approvals.ErrForbidden, http.StatusForbidden, "forbidden", "The token's owner may not do this to this request."},
	{approvals.ErrStale, http.StatusConflict, "stale", "The cluster changed since the request (or the proposal) was based on it: rebase it, or start again from the current configuration."},
	{approvals.ErrCollision, http.StatusConflict, "collision", "An earlier open request on this cluster changes the same fields."},
	{approvals.ErrConflict, http.StatusConflict, "conflict", "The request changed meanwhile; read it again."},
	{approvals.ErrInvalidTransition, http.StatusConflict, "invalid-state", "The request's state does not allow this."},
	{approvals.ErrNoPolicy, http.StatusConflict, "no-policy", "No approval policy matches this request, so nobody can approve it."},
	{approvals.ErrNoChange, http.StatusUnprocessableEntity, "no-change", "The proposal changes nothing on the cluster."},
	{approvals.ErrInvalid, http.StatusUnprocessableEntity, "invalid", "The request is incomplete or wrong."},
}

// problemOf turns err into a Problem: a Problem as it is, a domain error
// by the table (with the violations of a *approvals.ValidationError or the
// name of a *approvals.NameTakenError as field problems), an echo error by
// its status, anything else a 500 whose detail says nothing of the cause.
func problemOf(err error) *Problem {
	if p, ok := errors.AsType[*Problem](err); ok {
		return p
	}
	for _, e := range errorProblems {
		if !errors.Is(err, e.err) {
			continue
		}
		p := problem(e.status, e.code, e.detail)
		if ve, ok := errors.AsType[*approvals.ValidationError](err); ok {
			p.Errors = violationProblems(ve.Violations)
		} else if taken, ok := errors.AsType[*approvals.NameTakenError](err); ok {
			p.Errors = violationProblems(approvals.Violations{taken.Violation()})
		} else if e.err == approvals.ErrInvalid || e.err == approvals.ErrStale || e.err == approvals.ErrConflict {
			p.Detail = domainDetail(err)
		} else if reason := approvals.RefusalReason(err); reason != "" {
			p.Detail = reason // what would grant it, as the pages say
		}
		return p
	}
	if he, ok := errors.AsType[*echo.HTTPError](err); ok {
		msg, _ := he.Message.(string)
		return problem(he.Code, strings.ReplaceAll(strings.ToLower(http.StatusText(he.Code)), " ", "-"), msg)
	}
	return problem(http.StatusInternalServerError, "internal", "Something went wrong on the portal; the request id is in the X-Request-Id header.")
}

// domainDetail is the domain's own words after its last prefix, e.g.
// "a reason is required".
func domainDetail(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// violationProblems are vs as field problems: each with its API path and
// the form field that shows it (approvals.FieldForTarget).
func violationProblems(vs approvals.Violations) []FieldProblem {
	out := make([]FieldProblem, 0, len(vs))
	for _, v := range vs {
		field, _ := approvals.FieldForTarget(v.Target)
		out = append(out, FieldProblem{Target: v.Target, Field: field, Code: string(v.Code), Message: v.Message})
	}
	return out
}

// problems answers every error of the API's handlers and guards as a
// problem document, so that the pages' error handler (HTML) never sees
// one.
func (s *Server) problems(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil || c.Response().Committed {
			if err != nil {
				s.logger.WarnContext(c.Request().Context(), "api error after response started", "err", err)
			}
			return nil
		}
		p := problemOf(err)
		if p.Status >= 500 {
			s.logger.ErrorContext(c.Request().Context(), "api request failed", "status", p.Status, "path", c.Path(), "err", err)
		}
		return writeProblem(c, p)
	}
}

func writeProblem(c echo.Context, p *Problem) error {
	p.Instance = c.Request().URL.Path
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return c.Blob(p.Status, "application/problem+json", body)
}

// WriteError answers a refusal of the web layer's middleware (a body too
// large, unstorable input) as a problem document.
func (s *Server) WriteError(c echo.Context, status int, message string) error {
	code := strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "-")
	return writeProblem(c, problem(status, code, message))
}
