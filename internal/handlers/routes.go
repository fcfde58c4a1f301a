package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/auth"
)

// routes declares every route, grouped by who may call it. The middleware
// that guards a group is visible here.
func (s *Server) routes() {
	e := s.echo
	// Outermost, so that it sees the status finally written (metrics.go).
	e.Use(s.observeRequests())
	e.Use(s.requestID, s.traceRequests, s.logSlowRequests, s.logRequests, s.recoverPanic, s.securityHeaders)

	var (
		// Anyone: load balancers, static files, the sign-in flow.
		public = routeGroup{e: e}
		// Anyone, but a state change must come from this site and, when
		// there is a session, carry its CSRF token.
		publicChange = public.with(s.csrf)
		// Signed in with at least one role (others see "no access"); every
		// state change is CSRF-checked, then counted against the person's
		// rate limit. The role groups add a role check.
		signedIn  = public.with(s.requireSignIn, s.csrf, s.limitChanges)
		approvers = signedIn.with(s.requireRole(auth.RoleApprover))
		admins    = signedIn.with(s.requireRole(auth.RoleAdmin))
		// Auditors and admins read and export the audit log.
		auditReaders = signedIn.with(s.requireRole(auth.RoleAuditor, auth.RoleAdmin))
		// Requesters file change requests; on a cluster (:uid), only the
		// kinds the governance rules let them (cluster_teams.go).
		requesters = signedIn.with(s.requireRole(auth.RoleRequester), s.permitOnCluster)
	)

	// Public.
	public.GET("/healthz", s.healthz)
	public.GET("/readyz", s.readyz)
	public.GET(staticPattern, echo.WrapHandler(s.deps.Assets))
	public.GET("/favicon.ico", s.favicon)
	public.HEAD(staticPattern, echo.WrapHandler(s.deps.Assets))
	public.GET(auth.LoginPath, s.authLogin)
	public.GET(auth.CallbackPath, s.authCallback)
	public.GET(auth.SignedOutPath, s.authSignedOut)
	publicChange.POST(auth.LogoutPath, s.authLogout)

	// Signed in.
	signedIn.GET("/", s.home)
	// The cluster pages read the inventory, never Cloud Manager
	// (cluster_*.go).
	signedIn.GET("/clusters", s.clusterList)
	signedIn.GET("/clusters/:uid", s.clusterShow)
	// Change requests: the domain decides who may decide (request_*.go);
	// the list with its filters (requests_list.go).
	signedIn.GET("/requests", s.requestsList)
	signedIn.GET("/requests/:id", s.requestShow)
	signedIn.POST("/requests/:id/approve", s.requestApprove)
	signedIn.POST("/requests/:id/reject", s.requestReject)
	signedIn.POST("/requests/:id/cancel", s.requestCancel)
	// Personal access tokens for the JSON API (profile_tokens.go).
	signedIn.GET("/profile/tokens", s.profileTokens)
	signedIn.POST("/profile/tokens", s.profileTokenCreate)
	signedIn.POST("/profile/tokens/:id/revoke", s.profileTokenRevoke)

	// Break-glass: members of an emergency group file, approvers review
	// afterwards (admin_emergency.go; the domain checks both).
	signedIn.GET("/clusters/:uid/emergency", s.emergencyNew)
	signedIn.POST("/clusters/:uid/emergency", s.emergencyCreate)
	signedIn.POST("/requests/:id/emergency-review", s.emergencyReview)

	// Requesters: stop, start, delete or restart one server of a cluster
	// (request_new*.go).
	requesters.GET("/clusters/:uid/requests/new", s.requestNew)
	requesters.POST("/clusters/:uid/requests", s.requestCreate)

	// Create and update forms, editing a request; live pages; versions,
	// drift and rollback. Each area declares its routes in its own file.
	s.specRoutes(signedIn, requesters)
	s.liveRoutes(signedIn)
	s.historyRoutes(signedIn, requesters)

	// Auditors and admins: the audit log (audit_*.go).
	auditReaders.GET("/audit", s.auditList)
	auditReaders.GET("/audit/export", s.auditExport)
	auditReaders.GET("/audit/events/:seq", s.auditEvent)
	auditReaders.GET("/audit/verify", s.auditVerifyPage)
	auditReaders.POST("/audit/verify", s.auditVerifyRun)

	// Approvers: the requests awaiting their approval (approvals_queue.go).
	approvers.GET("/approvals", s.approvalsQueue)

	// Admins: send a failed change again (request_decide.go).
	admins.POST("/requests/:id/resend", s.requestResend)

	// Notifications: menu counts, preferences, endpoints and the delivery
	// log (notify_*.go).
	s.notifyRoutes(signedIn, admins)

	// The JSON API: bearer tokens only, never the session cookie, so
	// neither sign-in nor CSRF applies; its guards are in internal/api.
	if s.deps.API != nil {
		s.deps.API.Mount(e.Group(APIPrefix))
	}

	// Admins: teams, ownership, policies, windows (admin_*.go, internal/governance).
	admins.GET("/admin", s.adminIndex)
	admins.GET("/admin/teams", s.adminTeams)
	admins.POST("/admin/teams", s.adminTeamSave)
	admins.POST("/admin/teams/:name/delete", s.adminTeamDelete)
	admins.POST("/admin/ownership/rules", s.adminRuleAdd)
	admins.POST("/admin/ownership/rules/:id/delete", s.adminRuleDelete)
	admins.POST("/admin/ownership/owners", s.adminOwnerSet)
	admins.GET("/admin/policies", s.adminPolicies)
	admins.POST("/admin/policies", s.adminPolicyCreate)
	admins.GET("/admin/policies/:id", s.adminPolicy)
	admins.POST("/admin/policies/:id", s.adminPolicyPost)
	admins.GET("/admin/emergencies", s.adminEmergencies)
	admins.GET("/admin/windows", s.adminWindows)
	admins.POST("/admin/windows", s.adminWindowAdd)
	admins.POST("/admin/windows/:id/delete", s.adminWindowDelete)
	admins.POST("/admin/freezes", s.adminFreezeAdd)
	admins.POST("/admin/freezes/:id/delete", s.adminFreezeDelete)
}

const staticPattern = "/static/*"
