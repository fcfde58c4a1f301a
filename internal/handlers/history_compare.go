package handlers

import (
	"errors"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// historyCompare compares two stored versions of cluster :uid (?from=&to=)
// with the request page's diff table; risky fields are marked as in a
// request. Both versions must be in the inventory (404 otherwise): the page
// never calls the API.
func (s *Server) historyCompare(c echo.Context) error {
	ctx := c.Request().Context()
	cl, err := inventory.ClusterGet(ctx, s.deps.DB, c.Param("uid"))
	if err != nil {
		return err
	}
	from, errFrom := strconv.ParseInt(c.QueryParam("from"), 10, 64)
	to, errTo := strconv.ParseInt(c.QueryParam("to"), 10, 64)
	if errFrom != nil || errTo != nil {
		return echo.ErrBadRequest
	}
	a, err := inventory.VersionGet(ctx, s.deps.DB, cl.UID, from)
	if err != nil {
		return versionError(err)
	}
	b, err := inventory.VersionGet(ctx, s.deps.DB, cl.UID, to)
	if err != nil {
		return versionError(err)
	}
	versions, err := inventory.VersionList(ctx, s.deps.DB, cl.UID)
	if err != nil {
		return err
	}
	diff, err := approvals.DiffSpecs(&a.Spec, &b.Spec)
	if err != nil {
		return err
	}
	v := templates.VersionCompareView{ClusterUID: cl.UID, ClusterName: cl.Name, From: from, To: to,
		Diff: diffRows(diff, approvals.Risks(approvals.KindUpdate, diff, approvals.Payload{}, []string{cl.Environment}))}
	for _, ver := range versions {
		v.Versions = append(v.Versions, ver.ResourceVersion)
	}
	title := "Compare versions " + strconv.FormatInt(from, 10) + " and " + strconv.FormatInt(to, 10) + " of " + cl.Name
	return s.ok(c, templates.VersionComparePage(s.page(c, title), v))
}

// versionError maps a version missing from the inventory to 404.
func versionError(err error) error {
	if errors.Is(err, inventory.ErrVersionNotFound) {
		return echo.ErrNotFound
	}
	return err
}
