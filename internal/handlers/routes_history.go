package handlers

// historyRoutes declares configuration versions, their comparison, drift
// and rollback (history*.go).
func (s *Server) historyRoutes(signedIn, requesters routeGroup) {}
