package handlers

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/live"
)

// liveRetry is the reconnect delay the stream asks browsers for.
const liveRetry = 2 * time.Second

// liveURL is a page's event stream with the key of the viewer's own parts
// as the page drew them; empty when the portal runs without live updates.
func (s *Server) liveURL(path, key string) string {
	if s.deps.Live == nil {
		return ""
	}
	if key == "" {
		return path
	}
	return path + "?key=" + url.QueryEscape(key)
}

// liveRequest streams the updates of a change request's page.
func (s *Server) liveRequest(c echo.Context) error {
	if s.deps.Approvals == nil {
		return errNoApprovals
	}
	id, err := requestID(c)
	if err != nil {
		return err
	}
	if _, err := approvals.Get(c.Request().Context(), s.deps.DB, id); err != nil {
		return err
	}
	return s.stream(c, live.RequestTopic(id), s.drawRequest(id))
}

// liveCluster streams the updates of a cluster's page.
func (s *Server) liveCluster(c echo.Context) error {
	cl, err := inventory.ClusterGet(c.Request().Context(), s.deps.DB, c.Param("uid"))
	if err != nil {
		return err
	}
	return s.stream(c, live.ClusterTopic(cl.UID), s.drawCluster(cl.UID))
}

// liveClusters streams the cluster list's row updates.
func (s *Server) liveClusters(c echo.Context) error {
	return s.stream(c, live.ClustersTopic, s.drawClusters)
}

// liveDashboard streams the start page's updates.
func (s *Server) liveDashboard(c echo.Context) error {
	return s.stream(c, live.DashboardTopic, s.drawDashboard)
}

// stream answers with server-sent events for topic until the browser
// leaves, the hub stops (a shutdown) or the viewer's session ends (sign-out,
// expiry or deletion, noticed within seconds by auth.WatchSession): first
// what waits (the topic's current fragments), then each frame the hub
// shares, a heartbeat comment every hub.Heartbeat() (it keeps the stream
// open through proxies and notices a browser that left), for at most
// hub.MaxAge() (the browser then reconnects through the sign-in check,
// which re-reads the person's roles). A frame whose key differs from the
// one the viewer's page was drawn with (?key=), or a lost queue, adds a
// "refresh" event: the page reloads its own parts.
func (s *Server) stream(c echo.Context, topic string, draw live.Renderer) error {
	hub := s.deps.Live
	if hub == nil {
		return echo.ErrNotFound
	}
	w := c.Response()
	rc := http.NewResponseController(w)
	// The server's WriteTimeout is for pages; a stream lives on.
	if err := rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	sub := hub.Subscribe(topic, draw)
	defer sub.Close()
	defer s.observeStream()()
	key := c.QueryParam("key")
	if _, err := w.Write([]byte("retry: " + strconv.FormatInt(liveRetry.Milliseconds(), 10) + "\n\n")); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}
	heartbeat := time.NewTicker(hub.Heartbeat())
	defer heartbeat.Stop()
	maxAge := time.NewTimer(hub.MaxAge())
	defer maxAge.Stop()
	ctx := c.Request().Context()
	// Nil (never ready) only without sign-in, where no stream is served.
	var sessionEnded <-chan struct{}
	if sess, ok := auth.SessionFrom(ctx); ok && s.deps.Auth != nil {
		ended, stop := s.deps.Auth.WatchSession(sess)
		defer stop()
		sessionEnded = ended
	}
	var buf bytes.Buffer
	for {
		buf.Reset()
		select {
		case <-ctx.Done():
			return nil
		case <-hub.Done():
			return nil
		case <-maxAge.C:
			return nil
		case <-sessionEnded:
			return nil
		case <-heartbeat.C:
			buf.WriteString(": heartbeat\n\n")
		case <-sub.Ready():
			frames, refresh := sub.Next()
			for _, f := range frames {
				buf.Write(f.Bytes)
				refresh = refresh || f.Refresh
				if f.Key != "" && f.Key != key {
					key, refresh = f.Key, true
				}
			}
			if refresh {
				buf.WriteString("event: refresh\ndata: \n\n")
			}
		}
		if buf.Len() == 0 {
			continue
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return nil
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// fragment renders a component for an event.
func fragment(ctx context.Context, name string, component templ.Component) (live.Event, error) {
	var buf bytes.Buffer
	if err := component.Render(ctx, &buf); err != nil {
		return live.Event{}, err
	}
	return live.Event{Name: name, Data: bytes.TrimSpace(buf.Bytes())}, nil
}

// part is one named fragment of a frame.
type part struct {
	name      string
	component templ.Component
}

// fragments renders the parts in turn.
func fragments(ctx context.Context, parts ...part) ([]live.Event, error) {
	events := make([]live.Event, 0, len(parts))
	for _, p := range parts {
		e, err := fragment(ctx, p.name, p.component)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, nil
}
