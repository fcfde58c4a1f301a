package handlers

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/ratelimit"
)

var errorMessageRE = regexp.MustCompile(`data-testid="error-message">([^<]*)<`)

// TestRateLimitOfChanges goes through the real router with signed-in
// browsers and their CSRF tokens, on a portal that allows 5 changes a
// minute: erin's first five verifications of the audit log pass and the
// sixth is refused with 429, Retry-After and the wait in words, without
// running its handler; an htmx request is told in #flash; dave, another
// person, is unaffected; her reads are never limited; a minute later (on
// the injected clock) her bucket is full again.
func TestRateLimitOfChanges(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	base := serveOnLoopback(t, newServerFor(t, env, func(d *Deps) {
		d.RateLimitPerMinute = 5
		d.Now = env.clock.Now
	}))
	erin, dave := env.browser(), env.browser() // an auditor and an admin: both may verify
	erin.signIn("erin", "/")
	dave.signIn("dave", "/")
	erinToken, daveToken := erin.csrfToken(), dave.csrfToken()
	verify := func(b *browser, token string, header ...string) response {
		return b.postOnce(base+"/audit/verify", url.Values{csrfField: {token}}, header...)
	}
	auditRows := func() int { return env.countRows("audit_log") }

	for i := range 5 {
		r := verify(erin, erinToken)
		require.Equal(t, http.StatusSeeOther, r.status, "change %d of 5: %s", i+1, r.body)
	}
	rows := auditRows()
	wantMessage := "You are sending changes faster than the portal accepts; wait 12 seconds and try again."

	t.Run("the sixth change is refused", func(t *testing.T) {
		r := verify(erin, erinToken)
		require.Equal(t, http.StatusTooManyRequests, r.status, r.body)
		require.Equal(t, "12", r.header.Get("Retry-After"), "a token comes back every 60/5 seconds")
		m := errorMessageRE.FindStringSubmatch(r.body)
		require.NotNil(t, m, "an error page: %s", r.body)
		require.Equal(t, wantMessage, html.UnescapeString(m[1]))
		require.Equal(t, rows, auditRows(), "the refused verification did not run")
	})
	t.Run("from htmx: the message in #flash", func(t *testing.T) {
		r := verify(erin, erinToken, "HX-Request", "true")
		require.Equal(t, http.StatusTooManyRequests, r.status, r.body)
		require.Equal(t, "12", r.header.Get("Retry-After"))
		require.Equal(t, "#flash", r.header.Get("HX-Retarget"))
		require.Contains(t, html.UnescapeString(r.body), wantMessage)
		require.NotContains(t, r.body, `data-testid="error-page"`, "a fragment, not a page")
	})
	t.Run("another person is unaffected", func(t *testing.T) {
		for i := range 5 {
			r := verify(dave, daveToken)
			require.Equal(t, http.StatusSeeOther, r.status, "dave's change %d: %s", i+1, r.body)
		}
	})
	t.Run("reads are never limited", func(t *testing.T) {
		for _, path := range []string{"/", "/audit", "/audit/verify", "/", "/audit", "/audit/verify"} {
			r := erin.getOnce(base + path)
			require.Equal(t, http.StatusOK, r.status, "GET %s: %s", path, r.body)
		}
	})

	env.clock.Advance(time.Minute)
	t.Run("a minute later the bucket is full again", func(t *testing.T) {
		for i := range 5 {
			r := verify(erin, erinToken)
			require.Equal(t, http.StatusSeeOther, r.status, "change %d of 5 after a minute: %s", i+1, r.body)
		}
		require.Equal(t, http.StatusTooManyRequests, verify(erin, erinToken).status)
	})
}

// TestRateLimitOff: Deps without a rate limit (as PORTAL_RATE_LIMIT_PER_MINUTE=0
// gives) refuses no change however many are sent.
func TestRateLimitOff(t *testing.T) {
	t.Parallel()
	require.Nil(t, ratelimit.New(0, nil))
	env := newSigninEnv(t, signinOptions{}) // RateLimitPerMinute is zero
	erin := env.browser()
	erin.signIn("erin", "/")
	token := erin.csrfToken()
	for i := range 8 {
		r := erin.postOnce("/audit/verify", url.Values{csrfField: {token}})
		require.Equal(t, http.StatusSeeOther, r.status, "change %d: %s", i+1, r.body)
	}
}

func TestTooManyChangesMessage(t *testing.T) {
	t.Parallel()
	require.Equal(t, "You are sending changes faster than the portal accepts; wait 1 second and try again.", tooManyChangesMessage(1))
}
