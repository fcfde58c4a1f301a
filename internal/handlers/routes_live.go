package handlers

// liveRoutes declares the server-sent event streams that keep pages live
// (live*.go). Each stream has the access of its page.
func (s *Server) liveRoutes(signedIn routeGroup) {
	signedIn.GET("/requests/:id/events", s.liveRequest)
	signedIn.GET("/clusters/events", s.liveClusters)
	signedIn.GET("/clusters/:uid/events", s.liveCluster)
	signedIn.GET("/events/dashboard", s.liveDashboard)
}
