package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// newRequestFixture is the cluster fixture with the change-request service
// and the syncer wired in, as cmd/portal wires them.
func newRequestFixture(t *testing.T) *clusterFixture {
	t.Helper()
	f := newClusterFixture(t)
	deps := f.server.deps
	deps.Approvals = approvals.New(f.pool, approvals.Config{})
	deps.Inventory = f.syncer
	// No request has reached the portal yet, so swapping its handler is safe.
	f.server = New(deps)
	f.srv.Config.Handler = f.server
	return f
}

// fileForm posts the operation form of cluster uid with the session's CSRF
// token.
func (b *browser) fileForm(uid string, form url.Values) response {
	b.env.t.Helper()
	form.Set("csrf_token", b.csrfToken())
	return b.postOnce("/clusters/"+uid+"/requests", form)
}

var formTokenRE = regexp.MustCompile(`data-testid="request-new-form" novalidate><input type="hidden" name="csrf_token" value="([^"]+)"`)

var requestLocationRE = regexp.MustCompile(`^/requests/([0-9]+)$`)

// filedRequest reads the request a 303 points at.
func (f *clusterFixture) filedRequest(r response) approvals.Request {
	f.t.Helper()
	require.Equal(f.t, http.StatusSeeOther, r.status, r.body)
	m := requestLocationRE.FindStringSubmatch(r.header.Get("Location"))
	require.NotNil(f.t, m, "Location %q", r.header.Get("Location"))
	id, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(f.t, err)
	req, err := approvals.Get(f.t.Context(), f.pool, id)
	require.NoError(f.t, err)
	return req
}

func TestRequestNewFilesEachOperation(t *testing.T) {
	t.Parallel()
	f := newRequestFixture(t)
	staging, prod, dev := f.uid("analytics-staging"), f.uid("analytics-prod"), f.uid("clickstream-dev")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, staging)
	require.NoError(t, err)
	require.NotEmpty(t, cl.Status.Servers)
	server := cl.Status.Servers[len(cl.Status.Servers)-1]
	b := f.browser()
	b.signIn("alice", "/")

	for _, tc := range []struct {
		name    string
		uid     string
		form    url.Values
		confirm bool // the form asks for the cluster's name
	}{
		{"stop", staging, url.Values{"kind": {"stop"}, "reason": {"weekend"}}, false},
		{"stop in production", prod, url.Values{"kind": {"stop"}, "reason": {"quarter closed"}, "confirm_name": {"analytics-prod"}}, true},
		{"start", dev, url.Values{"kind": {"start"}, "reason": {"demo on Monday"}}, false},
		{"delete", dev, url.Values{"kind": {"delete"}, "reason": {"project ended"}, "confirm_name": {" clickstream-dev "}}, true},
		{"restart_server", staging, url.Values{"kind": {"restart_server"}, "reason": {"stuck JVM"}, "instance_id": {server.InstanceID}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := b.get("/clusters/" + tc.uid + "/requests/new?kind=" + tc.form.Get("kind"))
			require.Equal(t, http.StatusOK, page.status, page.body)
			require.Contains(t, page.body, `<label for="reason">`)
			require.Contains(t, page.body, `<textarea id="reason" name="reason"`)
			require.Equal(t, tc.confirm, strings.Contains(page.body, `<input type="text" id="confirm_name" name="confirm_name"`))
			require.Equal(t, tc.confirm || tc.form.Get("kind") == "stop", strings.Contains(page.body, `data-testid="request-risks"`),
				"stop, delete and production say their risk in words")
			if tc.name == "stop in production" {
				require.Contains(t, page.body, "<li>Production environment: this changes a production cluster.</li>")
			}
			if tc.form.Get("kind") == "restart_server" {
				require.Contains(t, page.body, `value="`+server.InstanceID+`"`)
				require.Contains(t, page.body, string(server.NodeType))
				require.Equal(t, len(cl.Status.Servers), strings.Count(page.body, `type="radio" name="instance_id"`))
			}

			// Post as the browser would: the token from the form itself.
			token := formTokenRE.FindStringSubmatch(page.body)
			require.NotNil(t, token, "the form carries the CSRF token")
			tc.form.Set("csrf_token", token[1])
			filed := b.postOnce("/clusters/"+tc.uid+"/requests", tc.form)
			r := f.filedRequest(filed)
			require.Equal(t, approvals.Kind(tc.form.Get("kind")), r.Kind)
			require.Equal(t, approvals.StatePending, r.State)
			require.Equal(t, tc.uid, r.ClusterUID)
			require.Equal(t, "Alice Anderson", r.Requester.Name)
			require.Equal(t, tc.form.Get("reason"), r.Revision.Reason)
			require.Equal(t, tc.form.Get("instance_id"), r.Revision.Payload.InstanceID)
			var events int
			require.NoError(t, f.pool.QueryRow(t.Context(), `
				SELECT count(*) FROM audit_log
				WHERE action = $1 AND subject_id = $2 AND actor_name = 'Alice Anderson' AND data->>'kind' = $3`,
				string(audit.RequestCreated), strconv.FormatInt(r.ID, 10), tc.form.Get("kind")).Scan(&events))
			require.Equal(t, 1, events)
			show := b.get(filed.header.Get("Location"))
			require.Equal(t, http.StatusOK, show.status, "the request's page")
			if tc.form.Get("kind") == "restart_server" {
				// The request names the server it restarts: on its page and
				// in the audit log, as it was when the request was filed.
				seen := string(server.NodeType) + " server, " + server.InstanceType + ", " + server.PrivateIP
				require.Equal(t, &approvals.ServerSeen{NodeType: string(server.NodeType), InstanceType: server.InstanceType,
					PrivateIP: server.PrivateIP}, r.Revision.Payload.Server)
				require.Contains(t, show.body, `data-testid="request-restarts-server">Restarts server <code>`+server.InstanceID+`</code> (`+seen+`)`)
				var logged string
				require.NoError(t, f.pool.QueryRow(t.Context(), `SELECT data->>'server' FROM audit_log WHERE action = $1 AND subject_id = $2`,
					string(audit.RequestCreated), strconv.FormatInt(r.ID, 10)).Scan(&logged))
				require.Equal(t, seen, logged)
			}
		})
	}
}

func TestRequestNewRefusesMistakesOnTheForm(t *testing.T) {
	t.Parallel()
	f := newRequestFixture(t)
	staging, dev := f.uid("analytics-staging"), f.uid("clickstream-dev")
	b := f.browser()
	b.signIn("alice", "/")

	t.Run("missing reason", func(t *testing.T) {
		r := b.fileForm(dev, url.Values{"kind": {"delete"}, "reason": {"  "}, "confirm_name": {"clickstream-dev"}})
		require.Equal(t, http.StatusUnprocessableEntity, r.status)
		require.Contains(t, r.body, `data-testid="reason-error"`)
		require.Regexp(t, `<textarea id="reason" name="reason" rows="3" required aria-(describedby="reason-error" aria-invalid="true"|invalid="true" aria-describedby="reason-error") autofocus>`, r.body)
		require.Contains(t, r.body, `<small id="reason-error" class="field-error" data-testid="reason-error">`)
		require.Contains(t, r.body, `value="clickstream-dev"`, "the confirmation typed is kept")
		require.NotContains(t, r.body, `data-testid="confirm_name-error"`)
	})
	t.Run("wrong confirmation", func(t *testing.T) {
		r := b.fileForm(dev, url.Values{"kind": {"delete"}, "reason": {"project ended"}, "confirm_name": {"clickstream"}})
		require.Equal(t, http.StatusUnprocessableEntity, r.status)
		require.Contains(t, r.body, `data-testid="confirm_name-error"`)
		require.Regexp(t, `<input type="text" id="confirm_name" name="confirm_name" value="clickstream"[^>]*aria-describedby="confirm_name-error"[^>]*autofocus>`, r.body)
		require.Contains(t, r.body, ">project ended</textarea>", "the reason typed is kept")
		require.NotContains(t, r.body, `data-testid="reason-error"`)
	})
	t.Run("unknown server", func(t *testing.T) {
		r := b.fileForm(staging, url.Values{"kind": {"restart_server"}, "reason": {"stuck"}, "instance_id": {"i-0000000000nothere"}})
		require.Equal(t, http.StatusUnprocessableEntity, r.status)
		require.Contains(t, r.body, `data-testid="instance_id-error"`)
		require.Contains(t, r.body, ">stuck</textarea>")
		require.Contains(t, r.body, `name="instance_id"`, "the servers are offered again")
	})
	t.Run("no server chosen", func(t *testing.T) {
		r := b.fileForm(staging, url.Values{"kind": {"restart_server"}, "reason": {"stuck"}})
		require.Equal(t, http.StatusUnprocessableEntity, r.status)
		require.Contains(t, r.body, "Choose the server to restart.")
	})
	t.Run("reason rendered inert", func(t *testing.T) {
		const xss = `</textarea><script>alert("reason")</script><img src=x onerror=alert(1)>`
		r := b.fileForm(dev, url.Values{"kind": {"delete"}, "reason": {xss}, "confirm_name": {`"><svg onload=alert(2)>`}})
		require.Equal(t, http.StatusUnprocessableEntity, r.status)
		require.Contains(t, r.body, `&lt;/textarea&gt;&lt;script&gt;alert(&#34;reason&#34;)&lt;/script&gt;`)
		for _, raw := range []string{`<script>alert`, `<img src=x`, `<svg onload`} {
			require.NotContains(t, r.body, raw)
		}
	})
	t.Run("operation that does not fit the state", func(t *testing.T) {
		r := b.fileForm(dev, url.Values{"kind": {"stop"}, "reason": {"already off"}})
		require.Equal(t, http.StatusUnprocessableEntity, r.status)
		require.Contains(t, r.body, "clickstream-dev is already stopped, so it cannot be stopped.")
		require.Contains(t, r.body, ">already off</textarea>")
	})
	t.Run("unknown kind", func(t *testing.T) {
		r := b.fileForm(dev, url.Values{"kind": {"approve"}, "reason": {"x"}})
		require.Equal(t, http.StatusNotFound, r.status)
	})
	require.Zero(t, f.countRows("change_requests"), "nothing was filed")
}

func TestRequestNewIgnoresExtraFields(t *testing.T) {
	t.Parallel()
	f := newRequestFixture(t)
	staging := f.uid("analytics-staging")
	b := f.browser()
	b.signIn("alice", "/")

	r := f.filedRequest(b.fileForm(staging, url.Values{
		"kind": {"stop"}, "reason": {"weekend"},
		"state": {"approved"}, "requester_id": {"1"}, "revision": {"7"}, "cluster_uid": {"someone-else"},
	}))
	require.Equal(t, approvals.StatePending, r.State)
	require.Equal(t, "Alice Anderson", r.Requester.Name)
	require.Equal(t, 1, r.Revision.Number)
	require.Equal(t, staging, r.ClusterUID)
}

func TestRequestNewFormFitsTheClusterState(t *testing.T) {
	t.Parallel()
	f := newRequestFixture(t)
	staging, dev := f.uid("analytics-staging"), f.uid("clickstream-dev")
	b := f.browser()
	b.signIn("alice", "/")

	r := b.get("/clusters/" + staging + "/requests/new?kind=start")
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	require.Contains(t, r.body, `data-testid="request-not-offered">analytics-staging is not stopped, so it cannot be started.<`)
	require.NotContains(t, r.body, `data-testid="request-new-form"`)
	require.Contains(t, r.body, `href="/clusters/`+staging+`/requests/new?kind=stop"`, "the operations that fit are offered")

	r = b.get("/clusters/" + dev + "/requests/new?kind=restart_server")
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	require.Contains(t, r.body, "clickstream-dev has no running server to restart.")

	require.Equal(t, http.StatusNotFound, b.get("/clusters/"+dev+"/requests/new?kind=update").status)
	require.Equal(t, http.StatusNotFound, b.get("/clusters/no-such-cluster/requests/new?kind=stop").status)

	// The cluster page links to the forms that fit.
	operations := regexp.MustCompile(`data-testid="operation-([a-z_]+)"`)
	kinds := func(body string) []string {
		var out []string
		for _, m := range operations.FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	started := b.get("/clusters/" + staging)
	require.Equal(t, []string{"update", "stop", "restart_server", "delete", "replace"}, kinds(started.body))
	require.Contains(t, started.body, `<a href="/clusters/`+staging+`/requests/new?kind=stop" role="button"`)
	require.Equal(t, []string{"update", "start", "delete", "replace"}, kinds(b.get("/clusters/"+dev).body))
}

// Before filing, the form says what it will take: the policy that will
// apply and how many approvals from whom.
func TestRequestNewShowsWhatItWillTake(t *testing.T) {
	t.Parallel()
	f := newRequestFixture(t)
	b := f.browser()
	b.signIn("alice", "/")
	for _, tc := range []struct{ cluster, kind, policy, needs string }{
		{"analytics-staging", "stop", "default", "1 approval from approvers"},
		{"analytics-staging", "restart_server", "default", "1 approval from approvers"},
		{"analytics-staging", "delete", "delete", "2 approvals from approvers"},
		{"analytics-prod", "stop", "production", "2 approvals from approvers"},
	} {
		r := b.get("/clusters/" + f.uid(tc.cluster) + "/requests/new?kind=" + tc.kind)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Contains(t, r.body, `data-testid="request-preview"`, "%s %s", tc.kind, tc.cluster)
		require.Regexp(t, `data-testid="preview-policy">\s*Policy <strong>`+tc.policy+`</strong>`, r.body, "%s %s", tc.kind, tc.cluster)
		require.Contains(t, r.body, tc.needs+", never from you.", "%s %s", tc.kind, tc.cluster)
	}
}

func TestRequestNewNeedsASignedInRequesterAndToken(t *testing.T) {
	t.Parallel()
	f := newRequestFixture(t)
	staging := f.uid("analytics-staging")
	form := url.Values{"kind": {"stop"}, "reason": {"weekend"}}

	anonymous := f.browser().postOnce("/clusters/"+staging+"/requests", form)
	require.Equal(t, http.StatusSeeOther, anonymous.status)
	require.Contains(t, anonymous.header.Get("Location"), "/auth/login")

	alice := f.browser()
	alice.signIn("alice", "/")
	noToken := alice.postOnce("/clusters/"+staging+"/requests", form)
	require.Equal(t, http.StatusForbidden, noToken.status)

	// carol approves but does not request.
	carol := f.browser()
	carol.signIn("carol", "/")
	require.Equal(t, http.StatusForbidden, carol.get("/clusters/"+staging+"/requests/new?kind=stop").status)
	require.Equal(t, http.StatusForbidden, carol.fileForm(staging, form).status)

	require.Zero(t, f.countRows("change_requests"))
}

func TestRequestNewFilesAgainstTheLiveCluster(t *testing.T) {
	t.Parallel()
	f := newRequestFixture(t)
	staging := f.uid("analytics-staging")
	stale, err := inventory.ClusterGet(t.Context(), f.pool, staging)
	require.NoError(t, err)
	// Someone stops the cluster in Cloud Manager; no sync runs.
	_, err = f.client.UpdateCluster(t.Context(), staging, []byte(`{"spec":{"desiredState":"STOPPED"}}`))
	require.NoError(t, err)
	live, err := f.client.GetCluster(t.Context(), staging)
	require.NoError(t, err)
	require.NotEqual(t, stale.ResourceVersion, live.Status.ResourceVersion)
	b := f.browser()
	b.signIn("alice", "/")

	// The form was shown when it ran; filing looks again.
	stop := b.fileForm(staging, url.Values{"kind": {"stop"}, "reason": {"weekend"}})
	require.Equal(t, http.StatusUnprocessableEntity, stop.status)
	require.Contains(t, stop.body, `data-testid="request-errors"`)
	require.Contains(t, stop.body, "analytics-staging is already stopped, so it cannot be stopped.")
	require.Contains(t, stop.body, ">weekend</textarea>")

	r := f.filedRequest(b.fileForm(staging, url.Values{"kind": {"start"}, "reason": {"needed after all"}}))
	require.Equal(t, approvals.KindStart, r.Kind)
	require.Equal(t, live.Status.ResourceVersion, r.Revision.BaseResourceVersion, "the base is the live cluster")
}

func TestRequestNewFilesFromTheInventoryWhenCloudManagerIsDown(t *testing.T) {
	t.Parallel()
	f := newClusterFixture(t)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // nothing answers there
	client, err := cloudapi.New(cloudapi.Config{
		BaseURL: down.URL + "/api/v1", TokenURL: down.URL + "/oauth/token",
		ClientID: "clusterdesk", ClientSecret: "secret", Timeout: time.Second,
		Retry: cloudapi.RetryPolicy{MaxAttempts: 1},
	})
	require.NoError(t, err)
	deps := f.server.deps
	deps.Approvals = approvals.New(f.pool, approvals.Config{})
	deps.Inventory = inventory.NewSyncer(f.pool, client, inventory.Config{})
	f.server = New(deps)
	f.srv.Config.Handler = f.server
	staging := f.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, staging)
	require.NoError(t, err)
	b := f.browser()
	b.signIn("alice", "/")

	r := f.filedRequest(b.fileForm(staging, url.Values{"kind": {"stop"}, "reason": {"weekend"}}))
	require.Equal(t, cl.ResourceVersion, r.Revision.BaseResourceVersion, "the inventory's copy is the base")
	require.Contains(t, f.logs.String(), "refresh before filing a request failed; using the inventory")
}

func TestRequestNewPlacesDomainRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		top  string
		kept bool // returned for the error page instead
	}{
		{fmt.Errorf("approvals: file restart_server request: %w: cluster a has no server %q", approvals.ErrInvalid, "i-1"),
			`The request could not be filed: cluster a has no server "i-1".`, false},
		{fmt.Errorf("approvals: file stop request: %w: the cluster is already stopped", approvals.ErrNoChange),
			"This request would change nothing: the cluster is already in that state.", false},
		{fmt.Errorf("approvals: file stop request: %w", approvals.ErrNotFound), "", true},
		{errors.New("database down"), "", true},
	} {
		v := templates.RequestNewView{Errors: map[string]string{}}
		err := requestNewPlaceError(&v, tc.err)
		if tc.kept {
			require.Error(t, err)
			require.Empty(t, v.Top)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, []string{tc.top}, v.Top)
	}
	notFound := requestNewPlaceError(&templates.RequestNewView{}, fmt.Errorf("x: %w", approvals.ErrNotFound))
	require.ErrorIs(t, notFound, inventory.ErrNotFound, "a 404 with the cluster's message")

	v := templates.RequestNewView{Errors: map[string]string{}}
	require.NoError(t, requestNewPlaceError(&v, &approvals.ValidationError{Violations: approvals.Violations{
		{Target: "spec.version", Message: "Imply version is required"}, {Target: "nowhere", Message: "whole request"}}}))
	require.Equal(t, "Imply version is required", v.Errors["version"])
	require.Equal(t, []string{"whole request"}, v.Top)
}
