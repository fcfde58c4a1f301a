package handlers

import (
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// RequestObserver is told of every request and event stream, e.g. to count
// them (cmd/portal hands it internal/metrics). It must be quick and safe
// for concurrent use.
type RequestObserver interface {
	// Request reports one answered request: the pattern of the route that
	// took it (/requests/:id), "" when none did; its method, status and
	// duration.
	Request(route, method string, status int, took time.Duration)
	// InFlight adds delta to the requests being handled (event streams
	// are not among them).
	InFlight(delta int)
	// Stream adds delta to the event streams open.
	Stream(delta int)
}

// observeRequests tells Deps.Metrics of each request once its answer is
// written. It runs outside every other middleware, so the status is the
// one the central error handler wrote. Only a registered route's pattern
// is passed on, never a path: a label's values must stay a fixed set.
func (s *Server) observeRequests() echo.MiddlewareFunc {
	var (
		once  sync.Once
		known map[string]bool
	)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		obs := s.deps.Metrics
		if obs == nil {
			return next
		}
		return func(c echo.Context) error {
			once.Do(func() {
				known = map[string]bool{}
				for _, r := range s.echo.Routes() {
					known[r.Path] = true
				}
			})
			// An EventSource asks for text/event-stream; its stream is
			// counted as open (observeStream), not in flight.
			stream := c.Request().Header.Get(echo.HeaderAccept) == "text/event-stream"
			if !stream {
				obs.InFlight(1)
				defer obs.InFlight(-1)
			}
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err) // write the error response now, so the status is known
			}
			route := c.Path()
			if !known[route] {
				route = ""
			}
			obs.Request(route, c.Request().Method, c.Response().Status, time.Since(start))
			return nil
		}
	}
}

// observeStream counts an event stream as open until the returned
// function is called.
func (s *Server) observeStream() func() {
	obs := s.deps.Metrics
	if obs == nil {
		return func() {}
	}
	obs.Stream(1)
	return func() { obs.Stream(-1) }
}
