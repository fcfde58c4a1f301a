// Package handlers is the portal's web layer: echo routes, middleware and
// handlers. Handlers are thin: bind a form, call the domain, then redirect or
// render a templ component.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/live"
	"github.com/clusterdesk/clusterdesk/internal/notify"
	"github.com/clusterdesk/clusterdesk/internal/ratelimit"
	"github.com/clusterdesk/clusterdesk/internal/specform"
	"github.com/clusterdesk/clusterdesk/web/static"
)

// Deps is what the web layer needs from the rest of the program.
type Deps struct {
	Logger *slog.Logger
	Assets *static.Assets
	// Ready reports whether the portal can serve: the database is reachable
	// and its schema current.
	Ready func(ctx context.Context) error
	// DB is the database, for pages that read it directly (the audit log).
	DB *pgxpool.Pool
	// Auth signs people in and keeps their sessions. Without it nobody can
	// sign in and every signed-in page redirects to a sign-in that answers 503.
	Auth *auth.Service
	// Approvals files, edits and decides change requests. Without it the
	// request pages answer 503.
	Approvals *approvals.Service
	// Inventory re-reads a cluster from the Cloud API (Refresh) when a
	// request is filed or approved, so that its base is current; nil skips
	// the re-read (the cached inventory is used). With it, an approver's
	// request page compares the request's base with the inventory's copy.
	Inventory *inventory.Syncer
	// Cloud asks Cloud Manager to validate a proposal (dryRun=true) while
	// a form is filled in and on submit (an approver's page shows the dry
	// run the worker stored); nil checks with the local rules only.
	Cloud approvals.DryRunner
	// Behaviour is what the configuration says of the API's state names
	// (running, stopped, busy); the zero value is the default.
	Behaviour cloudapi.Behaviour
	// Presets fill the create form ("small development cluster", …).
	Presets []specform.Preset
	// Resend sends a failed change again (admins; execution.Resend); nil
	// answers 503.
	Resend execution.ResendFunc
	// Live carries database notifications to the pages' event streams; nil
	// means pages update on reload only.
	Live *live.Hub
	// Notify runs the notification preferences, endpoints and delivery
	// log (notify_*.go) with NotifyInserter queuing resends; nil answers
	// 503 on those pages.
	Notify         *notify.Service
	NotifyInserter notify.Inserter
	// RequestExpireAfter is PORTAL_REQUEST_EXPIRE_AFTER: a pending
	// request's page says when it expires; zero: never.
	RequestExpireAfter time.Duration
	// Secure is true when the portal is served over https: cookies get the
	// Secure attribute and the __Host- prefix, responses carry HSTS, and a
	// state change's Origin must be https.
	Secure bool
	// MaxBodyBytes bounds a request's body: a larger one is refused with 413
	// before anything reads it. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// TrustedProxies are the proxies whose X-Forwarded-For entries are
	// believed; empty believes none, and a client's address is its TCP
	// peer's.
	TrustedProxies []netip.Prefix
	// RateLimitPerMinute bounds each signed-in person's state-changing
	// requests: that many at once, then that many a minute; more are
	// refused with 429 and Retry-After (ratelimit.go). The count is kept
	// in memory, per replica. Zero or less means no limit.
	RateLimitPerMinute int
	// Now is the clock of the rate limit; nil is time.Now.
	Now func() time.Time
	// SlowRequest: a request that takes longer is logged at warn level
	// (tracing.go); zero or less logs none.
	SlowRequest time.Duration

	// Metrics is told of every request and event stream (metrics.go);
	// nil counts nothing.
	Metrics RequestObserver

	// API is the JSON API (internal/api), mounted at APIPrefix with its
	// own bearer authentication and problem documents; nil mounts none.
	API API
}

// APIPrefix is where the JSON API is mounted.
const APIPrefix = "/api/v1"

// API is the JSON API as the web layer mounts it.
type API interface {
	// Mount declares the API's routes on g, a group at APIPrefix.
	Mount(g *echo.Group)
	// WriteError answers a refusal of the web layer's own middleware
	// (body too large, unstorable input) as the API answers errors.
	WriteError(c echo.Context, status int, message string) error
}

// Server is the portal's HTTP handler.
type Server struct {
	echo   *echo.Echo
	deps   Deps
	logger *slog.Logger
	secure bool
	// crossOrigin refuses cross-site state-changing requests (csrf).
	crossOrigin *http.CrossOriginProtection
	// states names clusters' states as Deps.Behaviour says.
	states clusterStates
	// maxBody is the largest request body read (limitBody).
	maxBody int64
	// changes limits each person's state changes (limitChanges); nil
	// means no limit.
	changes *ratelimit.Limiter
}

// New builds the router with every route and middleware.
func New(deps Deps) *Server {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = clientAddress(deps.TrustedProxies)
	s := &Server{echo: e, deps: deps, logger: deps.Logger, secure: deps.Secure, crossOrigin: http.NewCrossOriginProtection(),
		states: newClusterStates(deps.Behaviour), maxBody: deps.MaxBodyBytes,
		changes: ratelimit.New(deps.RateLimitPerMinute, deps.Now)}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	e.HTTPErrorHandler = s.handleError
	s.routes()
	// Last of the middleware that runs on every request, so after the
	// request id, the log line and the security headers (none reads the
	// body) and before any route's guards or handler (security_body.go).
	e.Use(s.limitBody)
	// Then, still before any guard or handler, the one check that no
	// field holds a NUL byte or invalid UTF-8 (input_hygiene.go).
	e.Use(s.refuseUnstorableInput)
	return s
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// HTTPServer wraps the handler in an http.Server with every timeout set, so a
// slow or idle client cannot hold a connection forever.
func HTTPServer(addr string, h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Long enough for a streamed export; server-sent event streams
		// extend their own deadline with http.ResponseController.
		WriteTimeout:   5 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
