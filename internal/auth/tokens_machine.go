package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
)

// ErrMachineTokensOff: the portal takes no tokens of the OpenID provider
// for the API, because no audience is configured (PORTAL_API_AUDIENCE).
var ErrMachineTokensOff = errors.New("auth: machine tokens are not configured")

// AuthenticateMachine verifies raw, an access token in JWT form or an ID
// token of the configured OpenID provider, for a machine: its signature
// (the provider's keys), issuer, expiry and audience (Config.APIAudience)
// are checked by go-oidc. The token's subject becomes a service identity, a
// row of users marked as a machine, with the groups of the groups claim,
// from which its roles derive as for a person. A machine reads and
// requests; it never approves (Principal.Has).
//
// Errors: ErrMachineTokensOff; ErrProviderUnavailable while the provider
// is undiscovered; ErrTokenInvalid for any token that does not verify.
func (s *Service) AuthenticateMachine(ctx context.Context, raw string) (Principal, error) {
	if s.cfg.APIAudience == "" {
		return Principal{}, ErrMachineTokensOff
	}
	rp := s.rp.get()
	if rp == nil {
		return Principal{}, s.rp.status()
	}
	verifier := rp.provider.Verifier(&oidc.Config{ClientID: s.cfg.APIAudience, Now: s.cfg.Now})
	tok, err := verifier.Verify(oidc.ClientContext(ctx, s.cfg.HTTPClient), raw)
	if err != nil {
		s.logger.InfoContext(ctx, "machine token refused", "err", err)
		return Principal{}, ErrTokenInvalid
	}
	var claims map[string]json.RawMessage
	if err := tok.Claims(&claims); err != nil || tok.Subject == "" {
		return Principal{}, ErrTokenInvalid
	}
	str := func(name string) string {
		var v string
		_ = json.Unmarshal(claims[name], &v)
		return v
	}
	client := cmpOr(str("client_id"), cmpOr(str("azp"), str("preferred_username")))
	id := identity{Issuer: tok.Issuer, Subject: tok.Subject, Username: cmpOr(client, tok.Subject),
		Groups: groupsFrom(claims[s.cfg.GroupsClaim])}
	id.Name = "service " + id.Username
	if id.Groups == nil {
		id.Groups = []string{}
	}
	u := User{Issuer: id.Issuer, Subject: id.Subject, Username: id.Username, Name: id.Name, Groups: id.Groups, LastLogin: s.now()}
	err = s.pool.QueryRow(ctx, `
		INSERT INTO users (issuer, subject, username, name, email, groups, last_login_at, machine)
		VALUES ($1, $2, $3, $4, '', $5, $6, true)
		ON CONFLICT (issuer, subject) DO UPDATE
		SET groups = EXCLUDED.groups, last_login_at = EXCLUDED.last_login_at,
		    username = CASE WHEN users.machine THEN EXCLUDED.username ELSE users.username END,
		    name = CASE WHEN users.machine THEN EXCLUDED.name ELSE users.name END
		RETURNING id, username, name`,
		u.Issuer, u.Subject, u.Username, u.Name, u.Groups, u.LastLogin).Scan(&u.ID, &u.Username, &u.Name)
	if err != nil {
		return Principal{}, fmt.Errorf("auth: record service identity: %w", err)
	}
	u.Roles = s.cfg.Roles.Roles(u.Groups)
	return Principal{User: u, Machine: true, Via: "service token of " + strings.TrimSpace(id.Username)}, nil
}
