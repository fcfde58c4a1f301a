package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/web/static"
)

// requestsSeen records what the server tells its RequestObserver.
type requestsSeen struct {
	mu       sync.Mutex
	requests []string // "route method status"
	inFlight []int
}

func (r *requestsSeen) Request(route, method string, status int, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, route+" "+method+" "+http.StatusText(status))
}

func (r *requestsSeen) InFlight(delta int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight = append(r.inFlight, delta)
}

func (r *requestsSeen) Stream(int) {}

// Each request is reported once, with its route's pattern — never the
// path — and the status the error handler finally wrote; an event stream
// is not counted in flight.
func TestRequestsAreObservedByRoutePattern(t *testing.T) {
	t.Parallel()
	assets, err := static.Load()
	require.NoError(t, err)
	seen := &requestsSeen{}
	s := New(Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Assets: assets, Metrics: seen})

	require.Equal(t, http.StatusOK, get(t, s, "/healthz").Code)
	require.Equal(t, http.StatusNotFound, get(t, s, "/no/such/page/4711").Code)
	require.Equal(t, http.StatusSeeOther, get(t, s, "/requests/4711").Code, "signed out: to the sign-in")
	inFlightBefore := len(seen.inFlight)
	get(t, s, "/requests/4711/events", "Accept", "text/event-stream")

	seen.mu.Lock()
	defer seen.mu.Unlock()
	require.Equal(t, []string{
		"/healthz GET OK",
		" GET Not Found",
		"/requests/:id GET See Other",
		"/requests/:id/events GET See Other",
	}, seen.requests)
	require.Equal(t, []int{1, -1, 1, -1, 1, -1}, seen.inFlight)
	require.Equal(t, inFlightBefore, len(seen.inFlight), "an event stream is not in flight")
}
