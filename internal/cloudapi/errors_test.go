package cloudapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

func TestIsRetryable(t *testing.T) {
	t.Parallel()
	status := func(code int) error { return &APIError{StatusCode: code} }
	wrapped := func(err error) error {
		return fmt.Errorf("cloudapi: getCluster: %w", &url.Error{Op: "Get", URL: "https://x", Err: err})
	}
	tokenStatus := func(code int) error {
		return fmt.Errorf("cloudapi: fetch token: %w", &oauth2.RetrieveError{Response: &http.Response{StatusCode: code}})
	}
	for name, tc := range map[string]struct {
		err  error
		want bool
	}{
		"nil":                  {nil, false},
		"500":                  {status(500), true},
		"502":                  {status(502), true},
		"503":                  {status(503), true},
		"429":                  {status(429), true},
		"408":                  {status(408), true},
		"400":                  {status(400), false},
		"401":                  {status(401), false},
		"403":                  {status(403), false},
		"404":                  {status(404), false},
		"409 busy":             {status(409), false},
		"time-out":             {wrapped(context.DeadlineExceeded), true},
		"cancelled":            {wrapped(context.Canceled), false},
		"connection reset":     {wrapped(&net.OpError{Op: "read", Err: syscall.ECONNRESET}), true},
		"connection refused":   {wrapped(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), true},
		"closed mid-reply":     {wrapped(io.ErrUnexpectedEOF), true},
		"closed before reply":  {wrapped(io.EOF), true},
		"token endpoint 503":   {tokenStatus(503), true},
		"token endpoint 401":   {tokenStatus(401), false},
		"plain error":          {errors.New("boom"), false},
		"local refusal":        {ErrAccessModeRequired, false},
		"wrapped api 503":      {fmt.Errorf("worker: %w", status(503)), true},
		"token error redacted": {redacted{err: tokenStatus(502), secrets: []string{"s"}}, true},
	} {
		require.Equal(t, tc.want, IsRetryable(tc.err), name)
	}
}

func TestSentinels(t *testing.T) {
	t.Parallel()
	notFound := fmt.Errorf("wrapped: %w", &APIError{StatusCode: 404, Code: CodeNotFound})
	busy := &APIError{StatusCode: 409, Code: CodeStateConflict}
	require.True(t, IsNotFound(notFound))
	require.True(t, errors.Is(notFound, ErrNotFound))
	require.False(t, IsBusy(notFound))
	require.True(t, IsBusy(busy))
	require.False(t, IsNotFound(busy))
	require.False(t, IsBusy(errors.New("409")))
}

func TestNewAPIError(t *testing.T) {
	t.Parallel()
	reply := func(code int, header http.Header) *http.Response {
		return &http.Response{StatusCode: code, Header: header}
	}

	documented := newAPIError(OpCreateCluster, reply(400, http.Header{}), []byte(`{"error":{"code":"BadArgument","message":"Request contains invalid arguments","details":[
		{"code":"NullValue","target":"metadata.name","message":"Cluster name must not be null"},
		{"code":"MalformedValue","target":"spec.deepStorage.path","message":"Path is not a valid s3 path"},
		{"code":"FutureCode","target":"spec.deepStorage.path","message":"Also this"}]}}`))
	require.Equal(t, CodeBadArgument, documented.Code)
	require.Equal(t, map[string][]ErrorDetail{
		"metadata.name": {{CodeNullValue, "metadata.name", "Cluster name must not be null"}},
		"spec.deepStorage.path": {
			{CodeMalformedValue, "spec.deepStorage.path", "Path is not a valid s3 path"},
			{"FutureCode", "spec.deepStorage.path", "Also this"},
		},
	}, documented.FieldErrors())
	require.Equal(t, "cloudapi: createCluster: 400 BadArgument: Request contains invalid arguments; "+
		"metadata.name: Cluster name must not be null (NullValue); "+
		"spec.deepStorage.path: Path is not a valid s3 path (MalformedValue); "+
		"spec.deepStorage.path: Also this (FutureCode)", documented.Error())

	proxy := newAPIError(OpGetCluster, reply(502, http.Header{"Retry-After": {"7"}}), []byte("<html>Bad gateway</html>"))
	require.Empty(t, proxy.Code)
	require.Equal(t, "Bad Gateway: <html>Bad gateway</html>", proxy.Message)
	require.Equal(t, 7*time.Second, proxy.RetryAfter)
	require.Nil(t, proxy.FieldErrors())

	empty := newAPIError(OpDeleteCluster, reply(500, http.Header{}), nil)
	require.Equal(t, "cloudapi: deleteCluster: 500: Internal Server Error", empty.Error())
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	require.Equal(t, 3*time.Second, parseRetryAfter("3", now))
	require.Equal(t, 90*time.Second, parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now))
	require.Zero(t, parseRetryAfter(now.Add(-time.Hour).Format(http.TimeFormat), now))
	require.Zero(t, parseRetryAfter("soon", now))
	require.Zero(t, parseRetryAfter("-1", now))
	require.Zero(t, parseRetryAfter("", now))
}

func TestRetryWait(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	require.Equal(t, 3, p.MaxAttempts)
	for n, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 60: time.Second} {
		for range 20 {
			d, ok := p.wait(n, errors.New("x"))
			require.True(t, ok)
			require.GreaterOrEqual(t, d, ceiling/2, "retry %d", n)
			require.LessOrEqual(t, d, ceiling, "retry %d", n)
		}
	}
	d, ok := p.wait(1, &APIError{StatusCode: 429, RetryAfter: 700 * time.Millisecond})
	require.True(t, ok)
	require.Equal(t, 700*time.Millisecond, d)
	_, ok = p.wait(1, &APIError{StatusCode: 429, RetryAfter: 2 * time.Second})
	require.False(t, ok, "longer than MaxDelay: left to the caller")
}

func TestEncodeOptions(t *testing.T) {
	t.Parallel()
	q, err := encodeOptions(OpUpdateCluster, []Option{DryRun(), Force(), Pretty()})
	require.NoError(t, err)
	require.Equal(t, "dryRun=true&force=true&pretty=true", q.Encode())
	for op, opt := range map[Operation]Option{
		OpCreateCluster:     Force(),
		OpListClusters:      DryRun(),
		OpDeleteCluster:     Pretty(),
		OpGetClusterVersion: Pretty(),
	} {
		_, err := encodeOptions(op, []Option{opt})
		require.Error(t, err, op)
	}
}
