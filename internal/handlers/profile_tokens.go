package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// The profile page of personal access tokens: a person makes tokens for
// the JSON API (shown once), sees them with their last use and revokes
// them. Tokens act as their owner (internal/api); only the owner sees them.

const tokensTitle = "API tokens"

// profileTokens lists the person's tokens.
func (s *Server) profileTokens(c echo.Context) error {
	v := templates.TokensView{Form: templates.TokenForm{Days: "30", Scopes: map[string]bool{"read": true}}}
	return s.renderTokens(c, http.StatusOK, v)
}

func (s *Server) renderTokens(c echo.Context, status int, v templates.TokensView) error {
	u, _ := auth.UserFrom(c.Request().Context())
	list, err := s.deps.Auth.Tokens(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	now := time.Now()
	if s.deps.Now != nil {
		now = s.deps.Now()
	}
	for _, t := range list {
		row := templates.TokenRow{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Created: timeText(t.CreatedAt),
			Expires: timeText(t.ExpiresAt), LastUsedIP: t.LastUsedIP, Status: "active"}
		scopes := make([]string, len(t.Scopes))
		for i, sc := range t.Scopes {
			scopes[i] = string(sc)
		}
		row.Scopes = strings.Join(scopes, ", ")
		if t.LastUsedAt != nil {
			row.LastUsed = timeText(*t.LastUsedAt)
		}
		switch {
		case t.RevokedAt != nil:
			row.Status = "revoked"
		case !t.Active(now):
			row.Status = "expired"
		}
		v.Tokens = append(v.Tokens, row)
	}
	// The page may carry a secret: no cache keeps it.
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return s.render(c, status, templates.TokensPage(s.page(c, tokensTitle), v))
}

// profileTokenCreate makes a token and shows its secret on the page it
// answers with (not after a redirect: the secret is never stored).
func (s *Server) profileTokenCreate(c echo.Context) error {
	form := templates.TokenForm{Name: strings.TrimSpace(c.FormValue("name")), Days: c.FormValue("days"),
		Scopes: map[string]bool{}, Errors: map[string]string{}}
	params, err := c.FormParams()
	if err != nil {
		return echo.ErrBadRequest
	}
	var scopes []auth.Scope
	for _, sc := range params["scope"] {
		form.Scopes[sc] = true
		scopes = append(scopes, auth.Scope(sc))
	}
	days, err := strconv.Atoi(form.Days)
	if err != nil || days < 1 || days > 365 {
		form.Days, days = "30", 30
	}
	switch {
	case form.Name == "":
		form.Errors["name"] = "Name the token, so that you know it in the list."
	case len(scopes) == 0:
		form.Errors["scope"] = "Choose at least one scope."
	}
	v := templates.TokensView{Form: form}
	if len(form.Errors) > 0 {
		return s.renderTokens(c, http.StatusUnprocessableEntity, v)
	}
	u, _ := auth.UserFrom(c.Request().Context())
	secret, tok, err := s.deps.Auth.CreateToken(c.Request().Context(), u,
		auth.NewToken{Name: form.Name, Scopes: scopes, Lifetime: time.Duration(days) * 24 * time.Hour}, auditOrigin(c))
	if errors.Is(err, auth.ErrTokenInput) {
		form.Errors["name"] = strings.TrimPrefix(err.Error(), "auth: create token: "+auth.ErrTokenInput.Error()+": ")
		v.Form = form
		return s.renderTokens(c, http.StatusUnprocessableEntity, v)
	}
	if err != nil {
		return err
	}
	v.NewSecret, v.NewName = secret, tok.Name
	v.Form = templates.TokenForm{Days: "30", Scopes: map[string]bool{"read": true}}
	return s.renderTokens(c, http.StatusOK, v)
}

// profileTokenRevoke ends one of the person's tokens at once.
func (s *Server) profileTokenRevoke(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	u, _ := auth.UserFrom(c.Request().Context())
	if err := s.deps.Auth.RevokeToken(c.Request().Context(), u, id, auditOrigin(c)); errors.Is(err, auth.ErrTokenNotFound) {
		return echo.ErrNotFound
	} else if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/profile/tokens")
}
