package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// notifyRoutes declares the notification pages: everyone's menu counts and
// preferences, the admins' endpoints and delivery log.
func (s *Server) notifyRoutes(signedIn, admins routeGroup) {
	signedIn.GET("/notifications/counts", s.notifyCounts)
	signedIn.GET("/notifications/preferences", s.notifyPreferences)
	signedIn.POST("/notifications/preferences", s.notifyPreferencesSave)
	admins.GET("/admin/notifications", s.notifyAdmin)
	admins.POST("/admin/notifications/endpoints", s.notifyEndpointAdd)
	admins.POST("/admin/notifications/endpoints/:id/delete", s.notifyEndpointRemove)
	admins.POST("/admin/notifications/deliveries/:id/resend", s.notifyDeliveryResend)
}

// errNoNotify answers the notification pages of a portal built without
// them.
var errNoNotify = echo.NewHTTPError(http.StatusServiceUnavailable, "Notifications are not configured on this portal.")
