package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/governance"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// adminWindows lists the change windows and the freezes not yet ended.
func (s *Server) adminWindows(c echo.Context) error {
	return s.renderAdminWindows(c, http.StatusOK, "")
}

func (s *Server) renderAdminWindows(c echo.Context, status int, problem string) error {
	ctx := c.Request().Context()
	v := templates.AdminWindowsView{Error: problem}
	windows, err := governance.WindowList(ctx, s.deps.DB)
	if err != nil {
		return err
	}
	for _, w := range windows {
		v.Windows = append(v.Windows, templates.AdminWindowRow{Text: w.String(), Covers: coversText(w.Environments, w.Teams),
			DeleteURL: "/admin/windows/" + strconv.FormatInt(w.ID, 10) + "/delete"})
	}
	freezes, err := governance.FreezeList(ctx, s.deps.DB, time.Now())
	if err != nil {
		return err
	}
	for _, f := range freezes {
		v.Freezes = append(v.Freezes, templates.AdminFreezeRow{Reason: f.Reason, Covers: coversText(f.Environments, f.Teams),
			Starts: timeText(f.Starts), Ends: timeText(f.Ends), DeleteURL: "/admin/freezes/" + strconv.FormatInt(f.ID, 10) + "/delete"})
	}
	return s.render(c, status, templates.AdminWindowsPage(s.page(c, "Change windows and freezes"), v))
}

func coversText(envs, teams []string) string {
	text := "every environment"
	if len(envs) > 0 {
		text = "environments " + strings.Join(envs, ", ")
	}
	if len(teams) > 0 {
		return text + ", teams " + strings.Join(teams, ", ")
	}
	return text + ", every team"
}

// minuteOfDay reads "HH:MM"; "24:00" is the end of the day.
func minuteOfDay(s string) (int, bool) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh == 24 && mm != 0 {
		return 0, false
	}
	return hh*60 + mm, true
}

// adminWindowAdd adds a change window.
func (s *Server) adminWindowAdd(c echo.Context) error {
	start, ok1 := minuteOfDay(c.FormValue("start"))
	end, ok2 := minuteOfDay(c.FormValue("end"))
	if !ok1 || !ok2 {
		return s.renderAdminWindows(c, http.StatusUnprocessableEntity, "Type the opening and closing times as HH:MM, like 09:00 and 16:00.")
	}
	w := governance.Window{Name: c.FormValue("name"), TimeZone: c.FormValue("time_zone"), Start: start, End: end,
		Environments: splitList(c.FormValue("environments")), Teams: splitList(c.FormValue("teams"))}
	if err := c.Request().ParseForm(); err != nil {
		return err
	}
	for _, d := range c.Request().Form["weekdays"] {
		n, err := strconv.Atoi(d)
		if err != nil {
			return s.renderAdminWindows(c, http.StatusUnprocessableEntity, "Choose the weekdays from the list.")
		}
		w.Weekdays = append(w.Weekdays, n)
	}
	if _, err := governance.NewAdmin(s.deps.DB).WindowAdd(c.Request().Context(), requestActor(c), w); err != nil {
		return s.adminWindowsProblem(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/windows")
}

// adminWindowDelete removes a change window.
func (s *Server) adminWindowDelete(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	if err := governance.NewAdmin(s.deps.DB).WindowDelete(c.Request().Context(), requestActor(c), id); err != nil {
		return s.adminWindowsProblem(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/windows")
}

// adminFreezeAdd adds a freeze; the times are UTC.
func (s *Server) adminFreezeAdd(c echo.Context) error {
	parse := func(v string) (time.Time, bool) {
		for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
			if t, err := time.ParseInLocation(layout, strings.TrimSpace(v), time.UTC); err == nil {
				return t, true
			}
		}
		return time.Time{}, false
	}
	starts, ok1 := parse(c.FormValue("starts"))
	ends, ok2 := parse(c.FormValue("ends"))
	if !ok1 || !ok2 {
		return s.renderAdminWindows(c, http.StatusUnprocessableEntity, "Type when the freeze starts and ends, like 2026-12-20T00:00 (UTC).")
	}
	f := governance.Freeze{Reason: c.FormValue("reason"), Starts: starts, Ends: ends,
		Environments: splitList(c.FormValue("environments")), Teams: splitList(c.FormValue("teams"))}
	if _, err := governance.NewAdmin(s.deps.DB).FreezeAdd(c.Request().Context(), requestActor(c), f); err != nil {
		return s.adminWindowsProblem(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/windows")
}

// adminFreezeDelete ends a freeze early.
func (s *Server) adminFreezeDelete(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	if err := governance.NewAdmin(s.deps.DB).FreezeDelete(c.Request().Context(), requestActor(c), id); err != nil {
		return s.adminWindowsProblem(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/windows")
}

func (s *Server) adminWindowsProblem(c echo.Context, err error) error {
	switch {
	case errors.Is(err, governance.ErrInvalid):
		msg := err.Error()
		if _, detail, ok := strings.Cut(msg, governance.ErrInvalid.Error()+": "); ok {
			msg = detail
		}
		return s.renderAdminWindows(c, http.StatusUnprocessableEntity, msg)
	case errors.Is(err, governance.ErrNotFound):
		return s.renderAdminWindows(c, http.StatusUnprocessableEntity, "That window or freeze does not exist (any more).")
	}
	return err
}
