package handlers

import (
	"slices"

	"github.com/labstack/echo/v4"
)

// routeGroup registers routes that share guards (middleware). Unlike echo's
// Group it hands the guards to each route: echo's Group.Use also registers
// catch-all routes that would run the guards on every unknown path.
type routeGroup struct {
	e      *echo.Echo
	guards []echo.MiddlewareFunc
}

// with returns a group with more guards, run after the group's own.
func (g routeGroup) with(guards ...echo.MiddlewareFunc) routeGroup {
	return routeGroup{e: g.e, guards: append(slices.Clone(g.guards), guards...)}
}

func (g routeGroup) GET(path string, h echo.HandlerFunc) *echo.Route {
	return g.e.GET(path, h, g.guards...)
}

func (g routeGroup) HEAD(path string, h echo.HandlerFunc) *echo.Route {
	return g.e.HEAD(path, h, g.guards...)
}

func (g routeGroup) POST(path string, h echo.HandlerFunc) *echo.Route {
	return g.e.POST(path, h, g.guards...)
}

func (g routeGroup) PUT(path string, h echo.HandlerFunc) *echo.Route {
	return g.e.PUT(path, h, g.guards...)
}

func (g routeGroup) PATCH(path string, h echo.HandlerFunc) *echo.Route {
	return g.e.PATCH(path, h, g.guards...)
}

func (g routeGroup) DELETE(path string, h echo.HandlerFunc) *echo.Route {
	return g.e.DELETE(path, h, g.guards...)
}
