package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

var errPanic = errors.New("handlers: panic")

// errorStatus maps domain errors to what people see. The first entry that
// matches (errors.Is) wins; anything unlisted is a 500. The database being
// out of reach is last: handleError marks it (unavailable.go), and a listed
// error that also wraps it keeps its own entry.
var errorStatus = []struct {
	err     error
	status  int
	message string
}{
	{database.ErrSchemaBehind, http.StatusServiceUnavailable, "The portal is being upgraded. Try again in a minute."},
	{audit.ErrNotFound, http.StatusNotFound, "There is no audit event with this number. Events older than the retention period are pruned."},
	{inventory.ErrNotFound, http.StatusNotFound, "There is no cluster with this id. Find it in the cluster list."},
	{approvals.ErrNotFound, http.StatusNotFound, "There is no change request with this number."},
	{approvals.ErrOwnRequest, http.StatusForbidden, "You filed or edited this request, so you cannot decide on it: someone else must approve it (four eyes)."},
	{approvals.ErrNoApproverRole, http.StatusForbidden, "You do not hold the approver role, so you cannot decide on requests."},
	{approvals.ErrNotEligible, http.StatusForbidden, "You are not in an approver group of this request's policy."},
	{approvals.ErrNotEmergencyMember, http.StatusForbidden, "Only members of an emergency group may file an emergency change."},
	{approvals.ErrNotPermitted, http.StatusForbidden, "The governance rules do not let you do this on this cluster."},
	{approvals.ErrForbidden, http.StatusForbidden, "You may not do this to this request."},
	{approvals.ErrStale, http.StatusConflict, "The cluster changed since this request was made, so it cannot be approved: the requester must rebase it."},
	{approvals.ErrCollision, http.StatusConflict, "An earlier open request on this cluster changes the same fields. Approve this one once that one is finished and this one is rebased."},
	{approvals.ErrConflict, http.StatusConflict, "The request changed while you were looking at it. Reload the page, check it again and decide."},
	{approvals.ErrInvalidTransition, http.StatusConflict, "The request's state does not allow this any more. Reload the page to see where it stands."},
	{approvals.ErrNoPolicy, http.StatusConflict, "No approval policy matches this request, so nobody can approve it."},
	{approvals.ErrInvalid, http.StatusUnprocessableEntity, "The request is incomplete or wrong."},
	{errCloudUnreachable, http.StatusServiceUnavailable, "Cloud Manager could not be reached to re-read the cluster, so nothing was approved. Try again in a minute."},
	{errNoApprovals, http.StatusServiceUnavailable, "Change requests are not configured on this portal."},
	{errCrossSite, http.StatusForbidden, "This request came from another site, so it was refused. Start again from the portal."},
	{errCSRFToken, http.StatusForbidden, "The page was out of date, so the request was refused. Reload the page and try again."},
	{errNoSignIn, http.StatusServiceUnavailable, "Sign-in is not configured on this portal."},
	{errBodyTooLarge, http.StatusRequestEntityTooLarge, "What was sent is larger than the portal accepts, so nothing was done. Shorten it and try again."},
	{errMultipart, http.StatusUnsupportedMediaType, "The portal takes no files or attachments, so nothing was done. Send the form from the portal's own page."},
	{errUnstorableInput, http.StatusUnprocessableEntity, "A field contains a character that cannot be stored (a NUL byte or invalid UTF-8); remove it and send again."},
	{errDatabaseUnreachable, http.StatusServiceUnavailable, "The portal cannot reach its database right now; try again in a moment."},
	{errTooManyChanges, http.StatusTooManyRequests, "You are sending changes faster than the portal accepts; wait and try again."},
}

// saidError is an error of the table whose message for people is made when
// it happens (it names the field to fix, or the time to wait); the table
// gives its status.
type saidError struct {
	err     error
	message string
}

func (e *saidError) Error() string { return e.err.Error() + ": " + e.message }
func (e *saidError) Unwrap() error { return e.err }

// say returns err of the table with message for people.
func say(err error, message string) error { return &saidError{err: err, message: message} }

// statusMessages are the headings and messages of plain HTTP errors.
var statusMessages = map[int][2]string{
	http.StatusBadRequest:            {"Bad request", "The request could not be understood."},
	http.StatusUnauthorized:          {"Sign-in needed", "Please sign in to continue."},
	http.StatusForbidden:             {"Not allowed", "You do not have permission to do this."},
	http.StatusNotFound:              {"Not found", "There is nothing at this address. Check the link, or start again from the start page."},
	http.StatusMethodNotAllowed:      {"Not allowed", "This address does not accept that kind of request."},
	http.StatusConflict:              {"Conflict", "Someone changed this at the same time. Reload the page and try again."},
	http.StatusUnprocessableEntity:   {"Check the form", "Some fields need attention."},
	http.StatusRequestEntityTooLarge: {"Too large", "What was sent is larger than the portal accepts."},
	http.StatusUnsupportedMediaType:  {"Not accepted", "The portal does not accept this kind of content."},
	http.StatusTooManyRequests:       {"Slow down", "Too many requests. Wait a moment and try again."},
	http.StatusInternalServerError:   {"Something went wrong", "The portal hit an unexpected problem. It has been logged; if it keeps happening, give the request ID below to the team."},
	http.StatusServiceUnavailable:    {"Unavailable", "The portal cannot serve this right now. Try again in a minute."},
}

// handleError is echo's central error handler: it picks the status, logs
// server faults with the request id, and renders the error page (or, for an
// htmx request, a message swapped into #flash). While the database is out
// of reach every page answers 503 with Retry-After.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		if !errors.Is(err, errPanic) {
			s.logger.WarnContext(c.Request().Context(), "error after response started", "request_id", RequestID(c), "err", err)
		}
		return
	}
	err = markDatabaseUnreachable(err)
	view := errorView(err)
	if view.Status == http.StatusServiceUnavailable && errors.Is(err, errDatabaseUnreachable) {
		c.Response().Header().Set("Retry-After", databaseRetryAfter)
	}
	if s.deps.API != nil && strings.HasPrefix(c.Request().URL.Path, APIPrefix+"/") {
		_ = s.deps.API.WriteError(c, view.Status, view.Message)
		return
	}
	if view.Status >= 500 && !errors.Is(err, errPanic) {
		s.logger.ErrorContext(c.Request().Context(), "request failed", "request_id", RequestID(c), "status", view.Status, "err", err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(view.Status)
		return
	}
	if isHTMX(c) {
		c.Response().Header().Set("HX-Retarget", "#flash")
		c.Response().Header().Set("HX-Reswap", "innerHTML")
		_ = s.render(c, view.Status, templates.Flash("error", view.Message))
		return
	}
	page := s.page(c, view.Heading)
	view.Links = errorLinks(c, page)
	if err := s.render(c, view.Status, templates.ErrorPage(page, view)); err != nil {
		s.logger.ErrorContext(c.Request().Context(), "render error page", "request_id", RequestID(c), "err", err)
		_ = c.String(view.Status, view.Message)
	}
}

func errorView(err error) templates.ErrorView {
	status := http.StatusInternalServerError
	var message string
	// A body cut off at the limit while something read it: 413 whoever
	// read it (a guard, or a handler's binding, which calls it 400).
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		err = errBodyTooLarge
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
	} else {
		for _, e := range errorStatus {
			if errors.Is(err, e.err) {
				status, message = e.status, e.message
				break
			}
		}
	}
	text, ok := statusMessages[status]
	if !ok {
		text = [2]string{http.StatusText(status), http.StatusText(status)}
	}
	if message == "" {
		message = text[1]
	}
	if said, ok := errors.AsType[*saidError](err); ok {
		message = said.message
	}
	if reason := approvals.RefusalReason(err); reason != "" {
		// A governance refusal says what would grant it (internal/governance).
		message = "You may not do this: " + reason + "."
	}
	return templates.ErrorView{Status: status, Heading: text[0], Message: message}
}

// errorLinks are the ways on from an error page for the request in c: back
// to the page the person came from (when it is on this site and is not the
// failed page), up to the request or cluster the failed URL belongs to,
// and to the list that holds it. Only pages the person may open are
// offered: someone without a role gets the start page alone.
func errorLinks(c echo.Context, page templates.Page) []templates.ErrorLink {
	if page.User == nil || len(page.User.Roles) == 0 {
		return nil
	}
	var links []templates.ErrorLink
	here := c.Request().URL.Path
	if back := sameSiteReferer(c); back != "" && back != c.Request().URL.RequestURI() {
		links = append(links, templates.ErrorLink{URL: back, Label: "Back to the page you came from"})
	}
	parts := strings.Split(strings.Trim(here, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "requests":
		if len(parts) > 2 {
			links = append(links, templates.ErrorLink{URL: "/requests/" + url.PathEscape(parts[1]), Label: "Request " + parts[1]})
		}
		links = append(links, templates.ErrorLink{URL: "/requests", Label: "All requests"})
	case len(parts) >= 2 && parts[0] == "clusters" && parts[1] != "new":
		if len(parts) > 2 {
			links = append(links, templates.ErrorLink{URL: "/clusters/" + url.PathEscape(parts[1]), Label: "The cluster's page"})
		}
		links = append(links, templates.ErrorLink{URL: "/clusters", Label: "All clusters"})
	}
	return links
}

// sameSiteReferer is the path and query of the Referer when it is a page
// of this site, or "".
func sameSiteReferer(c echo.Context) string {
	ref, err := url.Parse(c.Request().Referer())
	if err != nil || ref.Host != c.Request().Host || ref.Path == "" || !strings.HasPrefix(ref.Path, "/") {
		return ""
	}
	if strings.HasPrefix(ref.Path, "/auth/") {
		return ""
	}
	return ref.RequestURI()
}
