package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// firstServer returns the instance id of the first server of cluster uid.
func (h *harness) firstServer(t *testing.T, uid string) string {
	t.Helper()
	h.settle(t, uid)
	status, _, body := h.do(t, "GET", "/api/v1/clusters/"+uid, "")
	require.Equal(t, http.StatusOK, status, body)
	var c cloudapi.Cluster
	require.NoError(t, json.Unmarshal([]byte(body), &c))
	require.NotEmpty(t, c.Status.Servers)
	return c.Status.Servers[0].InstanceID
}

func TestRestartRoutes(t *testing.T) {
	t.Parallel()
	const (
		canonical = "POST /clusters/%s/servers/%s/restart"
		postAlias = "POST /clusters/%s/servers/%s"
		delAlias  = "DELETE /clusters/%s/servers/%s"
		custom    = "PUT /clusters/%s/instances/%s/reboot"
	)
	for _, tc := range []struct {
		name    string
		cfg     Config
		served  []string
		refused []string
	}{
		{name: "default: only the documented route", served: []string{canonical}, refused: []string{postAlias, delAlias, custom}},
		{name: "aliases asked for", cfg: Config{RestartAliases: true}, served: []string{canonical, postAlias, delAlias}, refused: []string{custom}},
		{name: "another route", cfg: Config{RestartRoute: "PUT /clusters/{clusterId}/instances/{instanceId}/reboot"}, served: []string{custom}, refused: []string{canonical, postAlias, delAlias}},
		{name: "an alias as the route, with the aliases", cfg: Config{RestartRoute: "DELETE /clusters/{clusterId}/servers/{instanceId}", RestartAliases: true}, served: []string{delAlias, postAlias}, refused: []string{canonical}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.cfg)
			uid := h.create(t, minimalCluster)
			call := func(route string) (int, string) {
				method, path, _ := strings.Cut(fmt.Sprintf(route, uid, h.firstServer(t, uid)), " ")
				status, _, body := h.do(t, method, "/api/v1"+path, "")
				return status, body
			}
			for _, route := range tc.served {
				status, body := call(route)
				require.Equal(t, http.StatusNoContent, status, "%s: %s", route, body)
			}
			for _, route := range tc.refused {
				status, body := call(route)
				require.Equal(t, http.StatusNotFound, status, route)
				code, _ := errorCode(t, body)
				require.Equal(t, cloudapi.CodeNotFound, code, route)
			}
			restarts := 0
			for _, c := range h.sim.Calls() {
				if c.Operation == cloudapi.OpRestartServer {
					restarts++
					require.True(t, c.Mutated)
				}
			}
			require.Equal(t, len(tc.served), restarts, "refused spellings are not restarts")
		})
	}

	t.Run("invalid routes are refused at start", func(t *testing.T) {
		t.Parallel()
		for _, route := range []string{
			"/clusters/{clusterId}/servers/{instanceId}/restart",       // no method
			"FETCH /clusters/{clusterId}/servers/{instanceId}/restart", // unknown method
			"POST /clusters/{clusterId}/restart",                       // no instance
			"POST /clusters/{clusterId}/servers/{instanceId}:restart",  // not a whole segment
			"GET /clusters/{clusterId}/history/{instanceId}",           // the history route
			"POST clusters/{clusterId}/servers/{instanceId}/restart",   // relative
		} {
			_, err := New(Config{RestartRoute: route})
			require.Error(t, err, route)
		}
	})
}
