package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
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
			if tc.form.Get("kind") == "restart_server" {
				require.Contains(t, page.body, `value="`+server.InstanceID+`"`)
				require.Contains(t, page.body, string(server.NodeType))
				require.Equal(t, len(cl.Status.Servers), strings.Count(page.body, `type="radio" name="instance_id"`))
			}

			r := f.filedRequest(b.fileForm(tc.uid, tc.form))
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
		})
	}
}
