package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

// deadDatabaseURL is a PostgreSQL nobody listens on.
const deadDatabaseURL = "postgres://postgres@127.0.0.1:1/none?connect_timeout=1"

// TestDatabaseDownAnswers503 signs a person in, then serves the portal
// from a pool whose database cannot be reached: every page, the sign-in
// and its callback answer 503 with Retry-After and say so (never 500);
// htmx gets the message in #flash; /readyz stays 503.
func TestDatabaseDownAnswers503(t *testing.T) {
	t.Parallel()
	env := newSigninEnv(t, signinOptions{})
	b := env.browser()
	b.signIn("erin", "/")
	require.NotEmpty(t, b.cookie(env.server.sessionCookie()), "signed in on the live database")
	callback := b.startSignIn("erin") // a sign-in under way: its cookie is in the jar

	dead, err := pgxpool.New(t.Context(), deadDatabaseURL) // connects lazily
	require.NoError(t, err)
	t.Cleanup(dead.Close)
	deadAuth, err := auth.New(t.Context(), dead, auth.Config{
		Issuer: env.idp.Issuer(), ClientID: testClientID, ClientSecret: testClientSecret, BaseURL: env.url,
		Roles: auth.RoleGroups{Requester: []string{"developers"}}, Recorder: env.events,
	})
	require.NoError(t, err)
	down := serveOnLoopback(t, newServerFor(t, env, func(d *Deps) {
		d.DB, d.Auth = dead, deadAuth
		d.Ready = dead.Ping
	}))
	callback.Scheme, callback.Host = "http", must(url.Parse(down)).Host

	want := errorView(errDatabaseUnreachable).Message
	require.Equal(t, "The portal cannot reach its database right now; try again in a moment.", want)
	for _, tc := range []struct{ name, target string }{
		{"signed-in page", down + "/clusters"},
		{"start page", down + "/"},
		{"sign-in", down + auth.LoginPath},
		{"sign-in callback", callback.String()},
	} {
		r := b.getOnce(tc.target)
		require.Equal(t, http.StatusServiceUnavailable, r.status, "%s: %s", tc.name, r.body)
		require.Equal(t, databaseRetryAfter, r.header.Get("Retry-After"), tc.name)
		require.Contains(t, html.UnescapeString(r.body), want, tc.name)
		require.Contains(t, r.body, `data-testid="error-page"`, tc.name)
	}

	r := b.getOnce(down+"/clusters", "HX-Request", "true")
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Equal(t, "#flash", r.header.Get("HX-Retarget"))
	require.Contains(t, html.UnescapeString(r.body), want)
	require.NotContains(t, r.body, "<html", "an htmx error is a fragment")

	r = b.getOnce(down + "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Contains(t, r.body, "database unreachable")

	// The same browser on the live database is still signed in: the outage
	// ended nothing.
	require.Equal(t, http.StatusOK, b.getOnce("/clusters").status)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestDatabaseUnreachable classifies real errors: what PostgreSQL refused
// is the statement's fault; a database out of reach, a connection the
// server ended and a deadline while waiting are not.
func TestDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	live := testdb.New(t)
	dead, err := pgxpool.New(t.Context(), deadDatabaseURL)
	require.NoError(t, err)
	t.Cleanup(dead.Close)

	_, refused := live.Exec(t.Context(), "SELECT no_such_column FROM users")
	_, noRows := live.Exec(t.Context(), "SELECT 1 WHERE false") // no error at all
	require.NoError(t, noRows)
	_, unreachable := dead.Exec(t.Context(), "SELECT 1")

	// A connection the server ends (as on a restart): the next statement
	// on it fails.
	conn, err := live.Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	var terminated bool
	require.NoError(t, live.QueryRow(t.Context(), "SELECT pg_terminate_backend($1, 5000)", conn.Conn().PgConn().PID()).Scan(&terminated))
	require.True(t, terminated)
	_, ended := conn.Exec(t.Context(), "SELECT 1")

	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	_, late := live.Exec(expired, "SELECT 1")
	gone, stop := context.WithCancel(t.Context())
	stop()
	_, abandoned := live.Exec(gone, "SELECT 1")

	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"SQL error", refused, false},
		{"SQL error wrapped", fmt.Errorf("approvals: x: %w", refused), false},
		{"database out of reach", fmt.Errorf("auth: read session: %w", unreachable), true},
		{"connection ended by the server", ended, true},
		{"deadline", late, true},
		{"request abandoned", abandoned, false},
		{"the portal's own error", errors.New("handlers: something"), false},
		{"a network error not from PostgreSQL", &url.Error{Op: "Get", URL: "http://cloud", Err: &timeoutError{}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Error(t, tt.err)
			require.Equal(t, tt.want, databaseUnreachable(tt.err), "%v", tt.err)
			require.Equal(t, tt.want, errors.Is(markDatabaseUnreachable(tt.err), errDatabaseUnreachable))
		})
	}
	// A listed error keeps its own page even when it wraps an outage.
	view := errorView(markDatabaseUnreachable(fmt.Errorf("%w: %w", errCloudUnreachable, unreachable)))
	require.Equal(t, errorView(errCloudUnreachable).Message, view.Message)
}

// timeoutError is a net.Error, as an HTTP client's timeout is.
type timeoutError struct{}

func (*timeoutError) Error() string   { return "i/o timeout" }
func (*timeoutError) Timeout() bool   { return true }
func (*timeoutError) Temporary() bool { return true }

// TestOversizedSpecFilesNothing posts, through the replace form, a spec
// over approvals.MaxSpecBytes (well under the body limit): 422 with the
// limit at the JSON field, nothing filed; the same spec without the
// padding files.
func TestOversizedSpecFilesNothing(t *testing.T) {
	t.Parallel()
	f := newHistoryFixture(t)
	staging := f.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, staging)
	require.NoError(t, err)
	b := f.browser()
	b.signIn("alice", "/")

	spec := cl.Spec
	spec.AWSTags = append(spec.AWSTags, cloudapi.NameValue{Name: "owner", Value: json.RawMessage(`"ops"`)})
	clean, err := json.Marshal(spec)
	require.NoError(t, err)
	spec.CommonRuntimeProperties = append(spec.CommonRuntimeProperties, cloudapi.NameValue{Name: "druid.padding",
		Value: json.RawMessage(`"` + strings.Repeat("x", approvals.MaxSpecBytes) + `"`)})
	huge, err := json.Marshal(spec)
	require.NoError(t, err)
	require.Less(t, len(huge), DefaultMaxBodyBytes/2, "refused by the spec rule, not the body limit")
	post := func(specJSON []byte) response {
		return b.postOnce("/clusters/"+staging+"/replace", url.Values{"csrf_token": {b.csrfToken()}, "action": {"file"},
			"spec_json": {string(specJSON)}, "reason": {"tag the owner"}, "seen": {strconv.FormatInt(cl.ResourceVersion, 10)}})
	}

	r := post(huge)
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	body := html.UnescapeString(r.body)
	require.Regexp(t, `data-testid="spec_json-error">[^<]*the portal accepts at most 256 KiB`, body)
	require.Less(t, len(body), len(huge)+64<<10, "the page echoes the JSON once, nothing more")
	require.Zero(t, f.countRows("change_requests"), "nothing was filed")

	filed := f.filedRequest(post(clean))
	require.Equal(t, approvals.KindReplace, filed.Kind)
}
