package handlers

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

var sseSwapRE = regexp.MustCompile(`sse-swap="([^"]+)"`)

// TestClusterPageFirstDrawAndLiveRedrawAreOneLoader: every live section of
// the cluster page (configuration included) is in the live redraw, the
// redraw draws each of them exactly as a first load of the page does, and
// a change of the cluster's configuration reaches an open page without a
// reload: the Configuration panel shows the new resource version and
// replicas.
func TestClusterPageFirstDrawAndLiveRedrawAreOneLoader(t *testing.T) {
	t.Parallel()
	f := newLiveFixture(t)
	alice, _ := f.signedIn("alice")
	uid := f.uid("analytics-staging")

	page := alice.get("/clusters/" + uid)
	var swapped []string
	for _, m := range sseSwapRE.FindAllStringSubmatch(page.body, -1) {
		swapped = append(swapped, m[1])
	}
	var drawn []string
	for _, p := range templates.ClusterLiveParts(templates.ClusterShowView{}) {
		drawn = append(drawn, p.Name)
	}
	require.Equal(t, drawn, swapped, "every live section of the page is in the redraw, in page order")
	require.Contains(t, swapped, "cluster-spec")

	key := regexp.MustCompile(`sse-connect="/clusters/` + uid + `/events\?key=([^"]+)"`).FindStringSubmatch(page.body)
	require.NotNil(t, key)
	s := alice.open("/clusters/" + uid + "/events?key=" + key[1])
	// The redraw of an unchanged cluster is the first draw, part by part.
	for _, name := range drawn {
		e := s.until(name, "")
		require.Contains(t, page.body, e.data, "the live %s is drawn as the page draws it", name)
	}

	before, err := inventory.ClusterGet(t.Context(), f.pool, uid)
	require.NoError(t, err)
	queryReplicas := *before.Spec.Query.Replicas
	_, err = f.client.UpdateCluster(t.Context(), uid,
		[]byte(`{"spec":{"query":{"replicas":`+strconv.Itoa(int(queryReplicas)+1)+`}}}`), cloudapi.Force())
	require.NoError(t, err)
	f.sync()
	after, err := inventory.ClusterGet(t.Context(), f.pool, uid)
	require.NoError(t, err)
	require.Greater(t, after.ResourceVersion, before.ResourceVersion)

	spec := s.until("cluster-spec", `data-testid="spec-resource-version">`+strconv.FormatInt(after.ResourceVersion, 10)+`<`)
	require.Contains(t, spec.data, `<tr data-testid="spec-tier"><th scope="row">Query</th><td data-testid="spec-replicas">`+strconv.Itoa(int(queryReplicas)+1)+`</td>`)
	s.until("refresh", "") // the versions section reloads itself

	// A first load now draws the same configuration as the redraw did.
	again := alice.get("/clusters/" + uid)
	require.Contains(t, again.body, strings.TrimSpace(spec.data))
}

// The versions section shows which version is the cluster's now (it gets
// no rollback link): a change's version is recorded before the cluster's
// row moves to it, and the move alone must reload the section.
func TestClusterLiveKeyFollowsTheCurrentVersion(t *testing.T) {
	t.Parallel()
	versions := []inventory.Version{{ResourceVersion: 2, Attributed: true}, {ResourceVersion: 1, Attributed: true}}
	before := clusterLiveKey(inventory.Cluster{ResourceVersion: 1}, versions)
	after := clusterLiveKey(inventory.Cluster{ResourceVersion: 2}, versions)
	require.NotEqual(t, before, after)
	require.Equal(t, after, clusterLiveKey(inventory.Cluster{ResourceVersion: 2}, versions), "the same page, the same key")
}
