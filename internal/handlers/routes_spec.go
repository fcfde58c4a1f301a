package handlers

// specRoutes declares the create and update forms (the whole spec, with
// live validation) and editing a filed request (request_spec*.go).
func (s *Server) specRoutes(signedIn, requesters routeGroup) {}
