// Package api is the portal's JSON API under /api/v1: the same change
// requests, decisions, clusters and audit log as the pages, for scripts,
// pipelines and the command-line client. Every handler calls the same
// domain functions as the forms (internal/approvals, internal/audit,
// internal/inventory), so the rules are the forms' rules; this package
// only adds bearer authentication (personal access tokens and, for
// machines, tokens of the OpenID provider), problem details (RFC 9457),
// ETags, rate limits and pagination. The document describing it is
// api/openapi.json, embedded and served at /api/v1/openapi.json.
package api

import (
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/ratelimit"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1"

// Deps is what the API needs from the rest of the program.
type Deps struct {
	Logger *slog.Logger
	DB     *pgxpool.Pool
	// Auth checks bearer tokens. Required.
	Auth *auth.Service
	// Approvals files, edits and decides change requests. Required.
	Approvals *approvals.Service
	// Inventory re-reads a cluster before a request is filed or approved,
	// as the forms do; nil uses the inventory's copy.
	Inventory *inventory.Syncer
	// Cloud is asked for a dry run of a proposal, as by the forms; nil
	// checks with the local rules only.
	Cloud approvals.DryRunner
	// RatePerMinute bounds each credential's calls: that many at once, then
	// that many a minute; more are answered 429 with Retry-After. Zero
	// means DefaultRatePerMinute; negative means no limit.
	RatePerMinute int
	// Now is the clock of the rate limit; nil is time.Now.
	Now func() time.Time
}

// DefaultRatePerMinute is the rate limit when Deps leaves it zero.
const DefaultRatePerMinute = 300

// Server serves the API.
type Server struct {
	deps    Deps
	logger  *slog.Logger
	limiter *ratelimit.Limiter
}

// New returns the API; it refuses missing dependencies.
func New(deps Deps) *Server {
	if deps.DB == nil || deps.Auth == nil || deps.Approvals == nil {
		panic("api: New needs DB, Auth and Approvals")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	rate := deps.RatePerMinute
	if rate == 0 {
		rate = DefaultRatePerMinute
	}
	return &Server{deps: deps, logger: deps.Logger, limiter: ratelimit.New(rate, deps.Now)}
}

// Mount declares every route of the API on g (mounted at Prefix), grouped
// by the scope a token needs. Bearer authentication and the rate limit
// guard all but the document itself; the roles are then checked as the
// pages check them (requireRole), and the domain decides the rest.
func (s *Server) Mount(g *echo.Group) {
	// The group's own middleware also guards its catch-all route, so an
	// unknown path answers a problem (404); the guards are handed to each
	// route instead, as the pages' routeGroup does, or the last group's
	// guards would answer for every unknown path.
	g.Use(s.problems)
	g.GET("/openapi.json", s.openAPIDocument)

	authed := []echo.MiddlewareFunc{s.authenticate, s.rateLimit}
	with := func(guards ...echo.MiddlewareFunc) []echo.MiddlewareFunc {
		return append(slices.Clone(authed), guards...)
	}
	var (
		read    = with(requireScope(auth.ScopeRead))
		request = with(requireScope(auth.ScopeRequest), requireRole(auth.RoleRequester))
		// Cancelling is open to every signed-in person, as on the pages:
		// the domain lets the requester or an admin do it.
		cancel = with(requireScope(auth.ScopeRequest))
		// Approving and rejecting: a person's token with the approve
		// scope; the domain decides who may decide (policy, four-eyes).
		decide   = with(requireScope(auth.ScopeApprove), requirePerson)
		auditors = with(requireScope(auth.ScopeRead), requireRole(auth.RoleAuditor, auth.RoleAdmin))
	)

	g.GET("/clusters", s.clusterList, read...)
	g.GET("/clusters/:uid", s.clusterGet, read...)

	g.GET("/requests", s.requestList, read...)
	g.GET("/requests/:id", s.requestGet, read...)
	g.POST("/requests", s.requestFile, request...)
	g.PATCH("/requests/:id", s.requestEdit, request...)
	g.POST("/requests/:id/rebase", s.requestRebase, request...)
	g.POST("/requests/:id/cancel", s.requestCancel, cancel...)
	g.POST("/requests/:id/approve", s.requestApprove, decide...)
	g.POST("/requests/:id/reject", s.requestReject, decide...)

	g.GET("/audit", s.auditList, auditors...)
	g.GET("/audit/export", s.auditExport, auditors...)
	g.POST("/audit/verify", s.auditVerify, auditors...)
}
