package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/auth"
)

type principalKey struct{}

// principalFrom returns who the request's bearer token stands for.
func principalFrom(c echo.Context) (auth.Principal, bool) {
	p, ok := c.Request().Context().Value(principalKey{}).(auth.Principal)
	return p, ok
}

// authenticate takes a bearer token in the Authorization header and
// nothing else: a session cookie is never accepted here (a browser's
// ambient credential would make every call a CSRF target), so CSRF does not
// apply. A personal access token starts with auth.TokenPrefix; any other
// bearer is taken for a token of the OpenID provider, from a machine.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		scheme, token, _ := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="clusterdesk"`)
			return problem(http.StatusUnauthorized, "unauthenticated",
				"A bearer token is required (Authorization: Bearer …). Cookies are not accepted by the API.")
		}
		ctx := c.Request().Context()
		var p auth.Principal
		var err error
		if strings.HasPrefix(token, auth.TokenPrefix) {
			p, err = s.deps.Auth.AuthenticateToken(ctx, token, c.RealIP())
		} else {
			p, err = s.deps.Auth.AuthenticateMachine(ctx, token)
		}
		switch {
		case errors.Is(err, auth.ErrTokenInvalid), errors.Is(err, auth.ErrMachineTokensOff):
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="clusterdesk", error="invalid_token"`)
			return problem(http.StatusUnauthorized, "invalid-token", "The token is unknown, revoked or expired.")
		case errors.Is(err, auth.ErrProviderUnavailable):
			return problem(http.StatusServiceUnavailable, "provider-unavailable", "The sign-in provider cannot be reached to check the token; try again shortly.")
		case err != nil:
			return err
		}
		if !p.User.HasAnyRole() {
			return problem(http.StatusForbidden, "no-role", "The token's owner holds no role in the portal.")
		}
		c.SetRequest(c.Request().WithContext(context.WithValue(ctx, principalKey{}, p)))
		return next(c)
	}
}

// requireScope refuses a token without scope (403).
func requireScope(scope auth.Scope) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, _ := principalFrom(c)
			if !p.Has(scope) {
				return problem(http.StatusForbidden, "insufficient-scope", "The token lacks the "+string(scope)+" scope.")
			}
			return next(c)
		}
	}
}

// requireRole refuses someone without any of roles, as the pages'
// requireRole does.
func requireRole(roles ...auth.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, _ := principalFrom(c)
			if !slices.ContainsFunc(roles, p.User.Has) {
				names := make([]string, len(roles))
				for i, r := range roles {
					names[i] = string(r)
				}
				return problem(http.StatusForbidden, "role-required", "This needs the role "+strings.Join(names, " or ")+".")
			}
			return next(c)
		}
	}
}

// requirePerson refuses a machine: approving and rejecting are a person's
// decisions, never a pipeline's.
func requirePerson(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if p, _ := principalFrom(c); p.Machine {
			return problem(http.StatusForbidden, "machine-may-not-decide", "Only a person approves or rejects; a service identity cannot.")
		}
		return next(c)
	}
}

// actorOf is the token's owner as the domain knows them, as the pages'
// actorOf builds it from a session: the same user id (so four-eyes holds
// against the person the token belongs to), groups and roles. The name in
// the audit log says which token was used.
func actorOf(c echo.Context) approvals.Actor {
	p, _ := principalFrom(c)
	u := p.User
	name := u.Name
	if name == "" {
		name = u.Username
	}
	return approvals.Actor{
		UserID: u.ID, Name: name + " (" + p.Via + ")", Groups: u.Groups,
		Approver: u.Has(auth.RoleApprover) && !p.Machine, Admin: u.Has(auth.RoleAdmin) && !p.Machine,
		Origin: originOf(c),
	}
}

func originOf(c echo.Context) audit.Origin {
	return audit.Origin{IP: c.RealIP(), RequestID: c.Response().Header().Get(echo.HeaderXRequestID)}
}
