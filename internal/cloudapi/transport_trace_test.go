package cloudapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Span names hold no identifiers: one name per route.
func TestRouteOfNamesTheRouteNotTheCluster(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"/api/v1/clusters": "/clusters",
		"/api/v1/clusters/0c6a61b1-1c2e-4c7e-9a51-7d2f6e1b8c3a":                          "/clusters/{clusterId}",
		"/api/v1/clusters/0c6a61b1-1c2e-4c7e-9a51-7d2f6e1b8c3a/history/42":               "/clusters/{clusterId}/history/{resourceVersion}",
		"/api/v1/clusters/0c6a61b1-1c2e-4c7e-9a51-7d2f6e1b8c3a/servers/i-0abc12/restart": "/clusters/{clusterId}/servers/{instanceId}/restart",
		"/api/v1/clusters/abc/instances/i-0abc12/reboot":                                 "/clusters/{clusterId}/instances/{id}/reboot",
		"/auth/realms/acme/protocol/openid-connect/token":                                "token",
	} {
		require.Equal(t, want, routeOf(path), path)
	}
}
