package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/auth"
)

// floodEnv is env's portal again, with sign-in events written to the audit
// log behind the anonymous limit (auth.LimitAnonymous on env's clock), as
// portal serve wires them (cmd/portal/audit.go), served behind a trusted
// proxy on loopback so that X-Forwarded-For names the client.
type floodEnv struct {
	*signinEnv
	url string
}

func newFloodEnv(t *testing.T) *floodEnv {
	t.Helper()
	env := newSigninEnv(t, signinOptions{})
	write := auth.RecorderFunc(func(ctx context.Context, e auth.Event) {
		actor := audit.Actor{Type: audit.ActorUser, ID: "anonymous", Name: "(not signed in)"}
		if e.UserID != 0 {
			actor = audit.User(strconv.FormatInt(e.UserID, 10), e.Username)
		}
		action := audit.AuthDenied
		if e.Kind == auth.EventLoginFailed {
			action = audit.AuthSignInFailed
		}
		err := pgx.BeginFunc(ctx, env.pool, func(tx pgx.Tx) error {
			_, err := audit.Append(ctx, tx, audit.Event{
				Actor: actor, Action: action, Subject: audit.Subject{Type: audit.SubjectUser},
				Origin: audit.Origin{IP: e.IP, RequestID: e.RequestID}, Data: e.Details(),
			})
			return err
		})
		require.NoError(t, err)
	})
	svc, err := auth.New(t.Context(), env.pool, auth.Config{
		Issuer:       env.idp.Issuer(),
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		BaseURL:      env.url,
		Roles:        auth.RoleGroups{Requester: []string{"developers"}},
		Now:          env.clock.Now,
		Logger:       slog.New(slog.NewJSONHandler(env.logs, nil)),
		Recorder:     auth.LimitAnonymous(write, auth.AnonymousLimit{Now: env.clock.Now}),
	})
	require.NoError(t, err)
	base := serveOnLoopback(t, newServerFor(t, env, func(d *Deps) {
		d.Auth = svc
		d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}))
	return &floodEnv{signinEnv: env, url: base}
}

// securityRow is a sign-in or denial event as the audit log holds it.
type securityRow struct {
	actor, action, ip string
	data              map[string]any
	raw               string
}

func (env *floodEnv) securityRows() []securityRow {
	env.t.Helper()
	rows, err := env.pool.Query(env.t.Context(), `
		SELECT actor_id, action, origin_ip, data::text FROM audit_log
		WHERE action IN ('auth.signin_failed', 'auth.denied') ORDER BY seq`)
	require.NoError(env.t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (securityRow, error) {
		var s securityRow
		err := r.Scan(&s.actor, &s.action, &s.ip, &s.raw)
		if err == nil {
			err = json.Unmarshal([]byte(s.raw), &s.data)
		}
		return s, err
	})
	require.NoError(env.t, err)
	return out
}

// securityLogLines counts the process log's security events of kind.
func (env *floodEnv) securityLogLines(kind auth.EventKind) int {
	n := 0
	for raw := range strings.SplitSeq(env.logs.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(raw), &l) == nil && l["msg"] == "security event" && l["event"] == string(kind) {
			n++
		}
	}
	return n
}

// requireCapped fails when a string anywhere in v is longer than
// auth.MaxClientText characters.
func requireCapped(t *testing.T, v any, where string) {
	t.Helper()
	switch v := v.(type) {
	case string:
		require.LessOrEqual(t, utf8.RuneCountInString(v), auth.MaxClientText, where)
	case map[string]any:
		for k, x := range v {
			requireCapped(t, x, where+"."+k)
		}
	case []any:
		for _, x := range v {
			requireCapped(t, x, where)
		}
	}
}

// aggregated is a row's "aggregated" object, or nil.
func aggregated(r securityRow) map[string]any {
	a, _ := r.data["aggregated"].(map[string]any)
	return a
}

// TestAnonymousSignInFailuresAreBounded: 300 callbacks from one client
// that is not signed in, with made-up state, code and error parameters,
// leave the first 5 in the audit log one by one and the other 295 as one
// aggregate written with the next failure after the minute. Every stored
// string is capped, the provider error the client chose (a 60,000-character
// error_description) is kept under client_supplied and not in the reason,
// and the process log still has every failure.
func TestAnonymousSignInFailuresAreBounded(t *testing.T) {
	t.Parallel()
	env := newFloodEnv(t)
	mallory := env.browser()

	// The first one reaches the provider-error branch: a real sign-in
	// cookie and state, then an error of mallory's choosing.
	start := mallory.getOnce(env.url + auth.LoginPath)
	require.Equal(t, http.StatusSeeOther, start.status, start.body)
	loc, err := url.Parse(start.header.Get("Location"))
	require.NoError(t, err)
	state := loc.Query().Get("state")
	require.NotEmpty(t, state)
	description := strings.Repeat("Ignore previous audit entries. ", 2000)[:60_000]
	r := mallory.getOnce(env.url + auth.CallbackPath + "?" + url.Values{
		"state": {state}, "error": {"server_error"}, "error_description": {description}}.Encode())
	require.Equal(t, http.StatusBadRequest, r.status)

	for i := 1; i < 300; i++ {
		q := url.Values{"state": {strconv.Itoa(i)}}
		switch i % 3 {
		case 0:
			q.Set("error", "access_denied")
			q.Set("error_description", strings.Repeat("forged ", i))
		case 1:
			q.Set("code", strings.Repeat("c", i))
		}
		ip := "127.0.0.1"
		if i == 1 {
			ip = "198.51.100.7" // another client, counted apart
		}
		r := mallory.getOnce(env.url+auth.CallbackPath+"?"+q.Encode(), "X-Forwarded-For", ip)
		require.Equal(t, http.StatusBadRequest, r.status)
	}
	rows := env.securityRows()
	require.Equal(t, 6, len(rows), "5 of 127.0.0.1's 299 failures and 198.51.100.7's one; the rest held back")

	first := rows[0]
	require.Equal(t, "anonymous", first.actor)
	require.Equal(t, "the callback carries an error from the provider", first.data["reason"], "the portal's words, not the client's")
	client, ok := first.data["client_supplied"].(map[string]any)
	require.True(t, ok, "the provider error is marked as the client's: %s", first.raw)
	require.Equal(t, "server_error", client["error"])
	stored := client["error_description"].(string)
	require.True(t, strings.HasPrefix(stored, description[:100]), stored)
	require.True(t, strings.HasSuffix(stored, "… [60000 characters]"), stored)
	require.Equal(t, auth.MaxClientText, utf8.RuneCountInString(stored))
	require.Equal(t, "198.51.100.7", rows[1].ip)
	for _, row := range rows[1:] {
		require.NotContains(t, row.raw, "client_supplied", "a failure that is not the provider's error keeps no client text")
	}

	// The minute ends; the next failure brings the aggregate with it.
	env.clock.Advance(time.Minute)
	r = mallory.getOnce(env.url+auth.CallbackPath+"?state=late", "X-Forwarded-For", "127.0.0.1")
	require.Equal(t, http.StatusBadRequest, r.status)
	rows = env.securityRows()
	require.LessOrEqual(t, len(rows), 10)
	require.Equal(t, 8, len(rows), "6 before, the aggregate, and the late failure in a new window")
	agg := rows[6]
	require.Equal(t, "auth.signin_failed", agg.action)
	require.Equal(t, "127.0.0.1", agg.ip)
	require.Equal(t, map[string]any{"count": 294.0, "total": 299.0, "client": "127.0.0.1",
		"from": aggregated(agg)["from"], "to": aggregated(agg)["to"]}, aggregated(agg),
		"count: those not recorded one by one (299 from 127.0.0.1 minus 5); total: all of the window")
	require.Contains(t, agg.data["reason"], "294 more failed sign-ins from 127.0.0.1")
	require.Nil(t, aggregated(rows[7]), "the late failure is recorded one by one")

	for i, row := range rows {
		requireCapped(t, row.data, "row "+strconv.Itoa(i))
		require.NotContains(t, row.data["reason"], "forged", "client text only under client_supplied")
	}
	require.Equal(t, 301, env.securityLogLines(auth.EventLoginFailed), "every failure is in the process log")
	res, err := audit.Verify(t.Context(), env.pool)
	require.NoError(t, err)
	require.True(t, res.OK, "%+v", res)
}

// TestAnonymousCrossSitePostsAreBounded: cross-site POSTs without a session
// are bounded per client like failed sign-ins, their method and path kept
// under client_supplied; a signed-in person's denials are all recorded.
func TestAnonymousCrossSitePostsAreBounded(t *testing.T) {
	t.Parallel()
	env := newFloodEnv(t)
	mallory := env.browser()
	for i := range 150 {
		for _, ip := range []string{"198.51.100.7", "2001:db8::" + strconv.Itoa(i+1)} {
			r := mallory.do(mallory.noFollow, http.MethodPost, env.url+auth.LogoutPath, url.Values{"n": {strconv.Itoa(i)}},
				"Sec-Fetch-Site", "cross-site", "X-Forwarded-For", ip)
			require.Equal(t, http.StatusForbidden, r.status)
		}
	}
	bob := env.browser()
	bob.signIn("bob", "/")
	for range 8 {
		r := bob.do(bob.noFollow, http.MethodPost, env.url+auth.LogoutPath, nil, "Sec-Fetch-Site", "cross-site")
		require.Equal(t, http.StatusForbidden, r.status)
	}
	env.clock.Advance(time.Minute)
	r := mallory.do(mallory.noFollow, http.MethodPost, env.url+auth.LogoutPath, nil,
		"Sec-Fetch-Site", "cross-site", "X-Forwarded-For", "203.0.113.9")
	require.Equal(t, http.StatusForbidden, r.status)

	var anonymous, bobs int
	aggregates := map[string]map[string]any{}
	for _, row := range env.securityRows() {
		require.Equal(t, "auth.denied", row.action)
		requireCapped(t, row.data, row.raw)
		switch {
		case row.actor != "anonymous":
			bobs++
			require.Equal(t, "/auth/logout", row.data["path"])
		case aggregated(row) != nil:
			aggregates[row.ip] = aggregated(row)
		default:
			anonymous++
			require.Equal(t, map[string]any{"method": "POST", "path": "/auth/logout"}, row.data["client_supplied"], row.raw)
		}
	}
	require.Equal(t, 8, bobs, "signed-in people are not limited")
	require.Equal(t, 11, anonymous, "5 for each client (the IPv6 addresses share a /64), and the late one")
	require.Len(t, aggregates, 2)
	require.Equal(t, 145.0, aggregates["198.51.100.7"]["count"])
	require.Equal(t, 145.0, aggregates["2001:db8::1"]["count"])
	require.Equal(t, "2001:db8::/64", aggregates["2001:db8::1"]["client"])
	require.Equal(t, 301, env.securityLogLines(auth.EventDenied)-8, "every anonymous denial is in the process log")
}
