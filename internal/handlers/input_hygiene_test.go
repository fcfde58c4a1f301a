package handlers

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/simtest"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

func TestUnstorable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		value string
		want  bool
	}{
		{"", false},
		{"Quarterly cost review", false},
		{"Zoë ✓ 東京", false},
		{`{"name":"analytics-prod"}`, false},
		{`{"note":"\\u0000 is how JSON writes NUL"}`, false}, // an escaped backslash, then text
		{"a\x00b", true},
		{"a\xffb", true},
		{"\xc3", true}, // a cut-off é
		{`{"name":"a\u0000"}`, true},
		{`\u0000`, true},
		{`{"name":"a\\\u0000"}`, true}, // a backslash, then the escape
	} {
		require.Equal(t, tt.want, unstorable(tt.value), "%q", tt.value)
	}
}

// TestUnstorableInputIsRefusedOnEveryRoute walks the route table as a
// signed-in person with every role and the session's CSRF token, and sends
// each route a NUL byte, invalid UTF-8 and the JSON escape \u0000: in a
// query parameter (GET, HEAD), a form field (POST) and a path parameter.
// Every answer is 422 naming the field, never 500.
func TestUnstorableInputIsRefusedOnEveryRoute(t *testing.T) {
	t.Parallel()
	// Wired as in `portal serve`, with a real cluster and request behind
	// the ids, so that without the check the handlers would reach the
	// database with what was sent.
	sim, client := simtest.Start(t, 5*time.Millisecond)
	env := newSigninEnv(t, signinOptions{roles: everyRole})
	f := &clusterFixture{signinEnv: env, sim: sim, client: client,
		syncer: inventory.NewSyncer(env.pool, client, inventory.Config{})}
	f.sync()
	uid := f.uid("analytics-prod")
	filed := f.fileStop(uid, "Quarterly cost review")
	cluster, err := inventory.ClusterGet(t.Context(), env.pool, uid)
	require.NoError(t, err)
	env.server.deps.Approvals = approvals.New(env.pool, approvals.Config{})
	env.server.deps.Inventory = f.syncer
	ids := map[string]string{":uid": uid, ":id": strconv.FormatInt(filed.ID, 10),
		":rv": strconv.FormatInt(cluster.ResourceVersion, 10), ":seq": "1", ":name": "analytics", "*": "app.css"}

	alice := env.browser()
	alice.signIn("alice", "/")
	token := alice.csrfToken()
	param := regexp.MustCompile(`:[^/]+|\*`)
	bad := map[string]string{"NUL": "a\x00b", "invalid UTF-8": "a\xffb", "JSON escape": `{"name":"a\u0000"}`}
	formFields := []string{"reason", "comment", "name", "spec_json", "version"}
	queryFields := []string{"q", "actor"}
	// In a path, as a browser sends them (%ff is sent as is, %FF too).
	badSegments := map[string]string{"NUL": "1%00", "invalid UTF-8": "1%ff", "invalid UTF-8, upper case": "1%FF"}

	type attempt struct {
		method, target string
		form           url.Values
		field          string
	}
	var attempts []attempt
	methods := map[string]bool{}
	for _, route := range env.server.echo.Routes() {
		if route.Method == echo.RouteNotFound {
			continue
		}
		methods[route.Method] = true
		fill := func(name string) string {
			id, ok := ids[name]
			require.True(t, ok, "no id for %s in %s", name, route.Path)
			return id
		}
		path := param.ReplaceAllStringFunc(route.Path, fill)
		var form url.Values
		if !isSafeMethod(route.Method) {
			form = url.Values{csrfField: {token}}
		}
		for _, value := range bad {
			if isSafeMethod(route.Method) {
				for _, field := range queryFields {
					attempts = append(attempts, attempt{route.Method, path + "?" + url.Values{field: {value}}.Encode(), nil, field})
				}
				continue
			}
			for _, field := range formFields {
				f := url.Values{csrfField: {token}, field: {value}}
				attempts = append(attempts, attempt{route.Method, path, f, field})
			}
		}
		if first := param.FindStringIndex(route.Path); first != nil {
			field := strings.TrimPrefix(route.Path[first[0]:first[1]], ":")
			if field == "*" {
				field = "path"
			}
			for _, segment := range badSegments {
				target := route.Path[:first[0]] + segment + param.ReplaceAllStringFunc(route.Path[first[1]:], fill)
				attempts = append(attempts, attempt{route.Method, target, form, field})
			}
		}
	}
	require.True(t, methods[http.MethodGet] && methods[http.MethodHead] && methods[http.MethodPost], "the walk covers GET, HEAD and POST: %v", methods)

	for _, a := range attempts {
		r := alice.do(alice.noFollow, a.method, a.target, a.form, "Sec-Fetch-Site", "same-origin")
		name := a.method + " " + a.target + " " + a.form.Encode()
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s\n%s", name, r.body)
		if a.method != http.MethodHead {
			require.Contains(t, html.UnescapeString(r.body), unstorableMessage(a.field), name)
			require.Contains(t, r.body, `data-testid="error-page"`, name)
		}
	}
	require.Equal(t, http.StatusOK, alice.getOnce("/").status, "the walk must not have signed alice out")
}

// TestUnstorableCommentLeavesTheRequestAlone: a cancel comment with a NUL
// byte (which the audit log used to store as U+FFFD, cancelling the
// request) is refused like any other field; from htmx the message goes to
// #flash, leaving the form on screen. A clean comment, read by the handler
// from the form the check parsed, cancels the request.
func TestUnstorableCommentLeavesTheRequestAlone(t *testing.T) {
	t.Parallel()
	f := newDecideFixture(t)
	alice, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStop, "analytics-prod", "Quarterly cost review")
	token := alice.csrfToken()
	cancel := requestPath(r.ID, "cancel")
	message := unstorableMessage("comment")

	page := alice.postOnce(cancel, url.Values{csrfField: {token}, "comment": {"no longer\x00 needed"}})
	require.Equal(t, http.StatusUnprocessableEntity, page.status, page.body)
	require.Contains(t, html.UnescapeString(page.body), message)
	require.Contains(t, page.body, `data-testid="error-page"`)
	require.Contains(t, page.body, `data-testid="nav-preferences">Alice Anderson</a>`, "the page shows who is signed in")
	require.Equal(t, approvals.StatePending, f.state(r.ID))

	fragment := alice.postOnce(cancel, url.Values{"comment": {"no longer\xff needed"}},
		"HX-Request", "true", csrfHeader, token)
	require.Equal(t, http.StatusUnprocessableEntity, fragment.status, fragment.body)
	require.Equal(t, "#flash", fragment.header.Get("HX-Retarget"))
	require.Equal(t, "innerHTML", fragment.header.Get("HX-Reswap"))
	require.Contains(t, html.UnescapeString(fragment.body), message)
	require.NotContains(t, fragment.body, "<html", "a fragment for #flash, not a page")
	require.Equal(t, approvals.StatePending, f.state(r.ID))

	const comment = "Zoë no longer needs it"
	done := alice.postOnce(cancel, url.Values{csrfField: {token}, "comment": {comment}, "confirm": {"yes"}})
	require.Equal(t, http.StatusSeeOther, done.status, done.body)
	require.Equal(t, approvals.StateCancelled, f.state(r.ID))
	var stored string
	require.NoError(t, f.pool.QueryRow(t.Context(),
		`SELECT data->>'comment' FROM audit_log WHERE action = 'request.cancelled' AND subject_id = $1`,
		strconv.FormatInt(r.ID, 10)).Scan(&stored))
	require.Equal(t, comment, stored)
}

// TestUnstorableSpecJSONFilesNothing: the advanced replace form with a
// spec whose JSON writes a NUL as \u0000 (valid JSON, which jsonb refuses)
// or a reason with a NUL byte is refused with 422 naming the field, and
// nothing is filed; the same form without them files the request.
func TestUnstorableSpecJSONFilesNothing(t *testing.T) {
	t.Parallel()
	f := newHistoryFixture(t)
	staging := f.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, staging)
	require.NoError(t, err)
	b := f.browser()
	b.signIn("alice", "/")

	spec := cl.Spec
	spec.AWSTags = append(spec.AWSTags, cloudapi.NameValue{Name: "owner", Value: json.RawMessage(`"ops"`)})
	raw, err := json.Marshal(spec)
	require.NoError(t, err)
	clean := string(raw)
	withEscape := strings.Replace(clean, `"value":"ops"`, `"value":"ops\u0000"`, 1)
	require.NotEqual(t, clean, withEscape)
	require.True(t, json.Valid([]byte(withEscape)))
	post := func(specJSON, reason string) response {
		return b.postOnce("/clusters/"+staging+"/replace", url.Values{"csrf_token": {b.csrfToken()}, "action": {"file"},
			"spec_json": {specJSON}, "reason": {reason}, "seen": {strconv.FormatInt(cl.ResourceVersion, 10)}})
	}

	for _, tt := range []struct{ specJSON, reason, field string }{
		{withEscape, "tag the owner", "spec_json"},
		{clean, "tag the\x00 owner", "reason"},
		{clean, "tag the \xffowner", "reason"},
	} {
		r := post(tt.specJSON, tt.reason)
		require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
		require.Contains(t, html.UnescapeString(r.body), unstorableMessage(tt.field))
	}
	require.Zero(t, f.countRows("change_requests"), "nothing was filed")

	filed := f.filedRequest(post(clean, "tag the owner"))
	require.Equal(t, approvals.KindReplace, filed.Kind)
	require.Equal(t, "tag the owner", filed.Revision.Reason)
}
