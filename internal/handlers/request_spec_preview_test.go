package handlers

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// While the person types, the update form shows the request it would
// file: the fields it changes, the risk hints and what approval it takes.
func TestSpecUpdatePreviewFollowsTheForm(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	uid := f.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, uid)
	require.NoError(t, err)
	form := func(replicas int32) string {
		values := specValues(alice, cl.Spec, "", "")
		values.Set("seen_resource_version", strconv.FormatInt(cl.ResourceVersion, 10))
		values.Set("data_tier1_replicas", strconv.Itoa(int(replicas)))
		resp := alice.postOnce("/clusters/"+uid+"/update/validate", values, "HX-Request", "true")
		require.Equal(t, http.StatusOK, resp.status, resp.body)
		require.Contains(t, resp.body, `id="spec-preview" data-testid="spec-preview" aria-live="polite" hx-swap-oob="true"`)
		return resp.body
	}
	now := *cl.Spec.Data.Tier1.Replicas // 2

	same := form(now)
	require.Contains(t, same, `data-testid="spec-preview-nochange"`)

	more := form(now + 1)
	require.Contains(t, more, `<code>spec.data.tier1.replicas</code>`)
	require.Contains(t, more, `data-testid="preview-policy"`)
	require.Contains(t, more, "1 approval from approvers")
	require.NotContains(t, more, `data-testid="spec-preview-risks"`)

	fewer := form(now - 1)
	require.Contains(t, fewer, `data-testid="spec-preview-risks"`)
	require.Contains(t, fewer, "<strong>scale-down</strong>")
	require.Contains(t, fewer, "2 approvals from approvers", "scale-down is high-risk")
}
