package handlers

// historyRoutes declares configuration versions, their comparison, drift
// and rollback (history*.go). The versions and drifts themselves are a
// section of the cluster page (cluster_versions.go).
func (s *Server) historyRoutes(signedIn, requesters routeGroup) {
	signedIn.GET("/clusters/:uid/versions", s.clusterVersionsOlder)
	signedIn.GET("/clusters/:uid/versions/compare", s.historyCompare)
	requesters.GET("/clusters/:uid/versions/:rv/rollback", s.historyRollbackNew)
	requesters.POST("/clusters/:uid/versions/:rv/rollback", s.historyRollbackCreate)
	// The advanced request: the whole spec as JSON (PUT).
	requesters.GET("/clusters/:uid/replace", s.historyReplaceNew)
	requesters.POST("/clusters/:uid/replace", s.historyReplaceCreate)
}
