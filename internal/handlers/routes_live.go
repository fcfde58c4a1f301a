package handlers

// liveRoutes declares the server-sent event streams that keep pages live
// (live*.go).
func (s *Server) liveRoutes(signedIn routeGroup) {}
