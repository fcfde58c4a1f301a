package sim

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// issuedToken is an access token the simulator handed out.
type issuedToken struct {
	clientID       string
	manageClusters bool
	expires        time.Time
}

// handleToken is the client-credentials grant of the simulated Keycloak
// realm (BEHAVIOUR.md §2, inferred): form-encoded grant_type, client_id and
// client_secret (or HTTP Basic credentials), answered with access_token,
// expires_in and token_type. Errors use OAuth's shape, not the API's.
func (s *Server) handleToken(r *http.Request, body []byte) response {
	if r.PathValue("org") != s.cfg.Org {
		return oauthError(http.StatusNotFound, "invalid_request", "Realm does not exist")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return oauthError(http.StatusBadRequest, "invalid_request", "Malformed form body")
	}
	if form.Get("grant_type") != "client_credentials" {
		return oauthError(http.StatusBadRequest, "unsupported_grant_type", "Only client_credentials is supported")
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if basicID, basicSecret, ok := r.BasicAuth(); ok {
		id, secret = basicID, basicSecret
	}
	client, ok := s.oauthClient(id, secret)
	if !ok {
		return oauthError(http.StatusUnauthorized, "unauthorized_client", "Invalid client or Invalid client credentials")
	}
	token := s.issue(client, s.cfg.TokenTTL)
	return response{status: http.StatusOK, body: map[string]any{
		"access_token": token,
		// Rounded up: a client must not take a sub-second lifetime for
		// "no expiry" (expires_in 0).
		"expires_in":         int(math.Ceil(s.cfg.TokenTTL.Seconds())),
		"refresh_expires_in": 0,
		"token_type":         "Bearer",
		"not-before-policy":  0,
		"scope":              "",
	}}
}

// oauthClient finds the client with these credentials.
func (s *Server) oauthClient(id, secret string) (OAuthClient, bool) {
	all := append([]OAuthClient{{ID: s.cfg.ClientID, Secret: s.cfg.ClientSecret, ManageClusters: true}}, s.cfg.Clients...)
	for _, c := range all {
		if c.ID == id && subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) == 1 {
			return c, true
		}
	}
	return OAuthClient{}, false
}

func (s *Server) issue(client OAuthClient, ttl time.Duration) string {
	token := rand.Text() + rand.Text()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for t, issued := range s.tokens {
		if now.After(issued.expires) {
			delete(s.tokens, t)
		}
	}
	s.tokens[token] = issuedToken{clientID: client.ID, manageClusters: client.ManageClusters, expires: now.Add(ttl)}
	return token
}

// IssueToken hands out a token for the client clientID that lives ttl, as
// if downloaded from the client's Tokens tab (for static-token set-ups).
func (s *Server) IssueToken(clientID string, ttl time.Duration) (string, error) {
	all := append([]OAuthClient{{ID: s.cfg.ClientID, Secret: s.cfg.ClientSecret, ManageClusters: true}}, s.cfg.Clients...)
	for _, c := range all {
		if c.ID == clientID {
			return s.issue(c, ttl), nil
		}
	}
	return "", fmt.Errorf("sim: no client %q", clientID)
}

// ExpireTokens revokes every token issued so far, as if their lifespan had
// ended early: the next API call with one gets 401.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// authorize is the bearer check every API call makes. It returns nil for
// a valid token of a client with the ManageClusters permission, else the
// reply: 401 when the token is missing, unknown or expired, 403 when its
// client lacks the permission. Both bodies carry code Unauthorized
// (documented); the 403's message is the documented one.
func (s *Server) authorize(r *http.Request) *response {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	s.mu.Lock()
	issued, ok := s.tokens[strings.TrimSpace(token)]
	s.mu.Unlock()
	switch {
	case !strings.EqualFold(scheme, "Bearer") || !ok || time.Now().After(issued.expires):
		resp := errorReply(http.StatusUnauthorized, cloudapi.CodeUnauthorized, "Missing, invalid or expired access token")
		resp.header = http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}
		return &resp
	case !issued.manageClusters:
		resp := errorReply(http.StatusForbidden, cloudapi.CodeUnauthorized, "Provided user does not have permissions to complete this request")
		return &resp
	}
	return nil
}

func oauthError(status int, code, description string) response {
	return response{status: status, body: map[string]string{"error": code, "error_description": description}}
}

// redactForm hides the client secret of a token request in the call log.
func redactForm(body []byte) string {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "[unparsable form]"
	}
	if form.Has("client_secret") {
		form.Set("client_secret", "[redacted]")
	}
	return form.Encode()
}
