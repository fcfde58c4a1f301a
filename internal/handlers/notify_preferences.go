package handlers

import (
	"net/http"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/notify"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// notifyPreferences shows what the viewer is emailed, per kind of event
// (notify.Preferences: their choice, else the kind's default). Emails'
// List-Unsubscribe header points here.
func (s *Server) notifyPreferences(c echo.Context) error {
	u, _ := auth.UserFrom(c.Request().Context())
	prefs, err := notify.Preferences(c.Request().Context(), s.deps.DB, u.ID)
	if err != nil {
		return err
	}
	v := templates.NotifyPreferencesView{Email: u.Email, Saved: c.QueryParam("saved") == "1"}
	for _, p := range prefs {
		v.Rows = append(v.Rows, templates.PreferenceRow{Kind: string(p.Kind), Label: p.Kind.Label(), Email: p.Email, Digest: p.Digest})
	}
	return s.ok(c, templates.NotifyPreferencesPage(s.page(c, "Notifications"), v))
}

// notifyPreferencesSave stores the viewer's choice for every kind: a kind
// whose box is unticked is off.
func (s *Server) notifyPreferencesSave(c echo.Context) error {
	u, _ := auth.UserFrom(c.Request().Context())
	var prefs []notify.Preference
	for _, k := range notify.Kinds() {
		prefs = append(prefs, notify.Preference{Kind: k, Email: c.FormValue("email_"+string(k)) == "on",
			Digest: c.FormValue("digest_"+string(k)) == "on"})
	}
	ctx := c.Request().Context()
	err := pgx.BeginFunc(ctx, s.deps.DB, func(tx pgx.Tx) error { return notify.PreferencesSet(ctx, tx, u.ID, prefs) })
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, notify.PreferencesPath+"?saved=1")
}
