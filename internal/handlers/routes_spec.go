package handlers

// specRoutes declares the create and update forms (the whole spec, with
// live validation) and editing a filed request (request_spec*.go). Each
// form posts to itself to file (or to switch between the fieldsets and
// JSON) and to …/validate for the live check while typing.
func (s *Server) specRoutes(signedIn, requesters routeGroup) {
	requesters.GET("/clusters/new", s.specCreateForm)
	requesters.POST("/clusters/new", s.specCreate)
	requesters.POST("/clusters/new/validate", s.specCreateValidate)
	requesters.GET("/clusters/:uid/update", s.specUpdateForm)
	requesters.POST("/clusters/:uid/update", s.specUpdate)
	requesters.POST("/clusters/:uid/update/validate", s.specUpdateValidate)
	// The requester or an admin: the domain decides.
	signedIn.GET("/requests/:id/edit", s.specEditForm)
	signedIn.POST("/requests/:id/edit", s.specEdit)
	signedIn.POST("/requests/:id/edit/validate", s.specEditValidate)
	signedIn.POST("/requests/:id/rebase", s.specRebase)
}
