package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/web/templates"
)

func (s *Server) home(c echo.Context) error {
	return s.ok(c, templates.Home(s.page(c, "Home"), templates.HomeView{Greeting: "Welcome to Clusterdesk."}))
}
