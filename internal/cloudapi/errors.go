package cloudapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/oauth2"
)

// Sentinels matched by errors.Is against an *APIError.
var (
	// ErrNotFound: the cluster, version or server does not exist (404).
	ErrNotFound = errors.New("cloudapi: not found")
	// ErrBusy: the cluster is applying another change (409 StateConflict).
	ErrBusy = errors.New("cloudapi: cluster is busy")
)

// APIError is a reply of the service outside 2xx. The API's error body
// {"error": {"code", "message", "details"}} is decoded into it; when the body
// is not in that shape, Code is empty and Message describes the reply.
type APIError struct {
	Operation  Operation     // the call that failed
	StatusCode int           // HTTP status
	Code       ErrorCode     // error.code, e.g. BadArgument or StateConflict
	Message    string        // error.message
	Details    []ErrorDetail // error.details: one entry per offending field
	// RetryAfter is the wait the service asked for with a Retry-After
	// header (429 or 503); zero when it sent none.
	RetryAfter time.Duration
}

// ErrorDetail is one offending field of a 400 BadArgument reply.
type ErrorDetail struct {
	Code    ErrorCode `json:"code"`   // NullValue or MalformedValue
	Target  string    `json:"target"` // dotted path, e.g. spec.deepStorage.path
	Message string    `json:"message"`
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cloudapi: %s: %d", e.Operation, e.StatusCode)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	for _, d := range e.Details {
		fmt.Fprintf(&b, "; %s: %s (%s)", d.Target, d.Message, d.Code)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) and errors.Is(err, ErrBusy) work.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrBusy:
		return e.StatusCode == http.StatusConflict
	}
	return false
}

// FieldErrors groups the details by target path (e.g. "metadata.name"), in
// the order the service listed them. A form maps each path to its input.
// Details without a target are grouped under "".
func (e *APIError) FieldErrors() map[string][]ErrorDetail {
	if len(e.Details) == 0 {
		return nil
	}
	fields := make(map[string][]ErrorDetail, len(e.Details))
	for _, d := range e.Details {
		fields[d.Target] = append(fields[d.Target], d)
	}
	return fields
}

// IsNotFound reports whether err says the cluster, version or server does
// not exist. After a retried DELETE it can also mean an earlier attempt
// succeeded.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsBusy reports whether err is a 409: the cluster is applying another
// change. Try again once its update has finished; the client never retries
// this by itself.
func IsBusy(err error) bool { return errors.Is(err, ErrBusy) }

// IsRetryable reports whether the same call may succeed later: a 5xx, 408
// or 429 reply, a time-out, a broken or refused connection, or a token
// endpoint failing in one of those ways. A cancelled context, a 4xx reply
// (409 included, see IsBusy) and invalid input are not retryable.
//
// For a call that changes state, a retryable error may still mean the
// change was applied (e.g. the connection broke after the service acted):
// reconcile with a read before sending it again.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if apiErr, ok := errors.AsType[*APIError](err); ok {
		return retryableStatus(apiErr.StatusCode)
	}
	if tokenErr, ok := errors.AsType[*oauth2.RetrieveError](err); ok && tokenErr.Response != nil {
		return retryableStatus(tokenErr.Response.StatusCode)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	if netErr, ok := errors.AsType[net.Error](err); ok {
		return netErr.Timeout()
	}
	_, isOpError := errors.AsType[*net.OpError](err)
	return isOpError
}

// RetryAfter returns the wait the service asked for (Retry-After header on a
// 429 or 503 reply) and whether it asked for one.
func RetryAfter(err error) (time.Duration, bool) {
	if apiErr, ok := errors.AsType[*APIError](err); ok && apiErr.RetryAfter > 0 {
		return apiErr.RetryAfter, true
	}
	return 0, false
}

func retryableStatus(code int) bool {
	return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(value string, now time.Time) time.Duration {
	if value == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(value)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(value); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// newAPIError builds the error for a reply outside 2xx from its body.
func newAPIError(op Operation, resp *http.Response, body []byte) *APIError {
	e := &APIError{
		Operation:  op,
		StatusCode: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	var envelope struct {
		Error *struct {
			Code    ErrorCode     `json:"code"`
			Message string        `json:"message"`
			Details []ErrorDetail `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &envelope) == nil && envelope.Error != nil {
		e.Code = envelope.Error.Code
		e.Message = envelope.Error.Message
		e.Details = envelope.Error.Details
		return e
	}
	// Not the documented shape (a proxy's page, an empty reply): keep a
	// short, printable excerpt.
	e.Message = http.StatusText(resp.StatusCode)
	if excerpt := strings.TrimSpace(string(body)); excerpt != "" {
		if len(excerpt) > 200 {
			excerpt = excerpt[:200] + "…"
		}
		e.Message += ": " + strings.ToValidUTF8(excerpt, "?")
	}
	return e
}
