package cloudcheck

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// The guard lets through only what cannot change a cluster; anything
// else never reaches the server.
func TestReadOnlyRefusesWhatCouldChangeACluster(t *testing.T) {
	t.Parallel()
	var reached atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(server.Close)
	guard := &ReadOnly{TokenURL: server.URL + "/token"}
	client := &http.Client{Transport: guard}
	cases := []struct {
		method, path string
		allowed      bool
	}{
		{http.MethodGet, "/api/v1/clusters", true},
		{http.MethodPatch, "/api/v1/clusters/u?dryRun=true", true},
		{http.MethodPut, "/api/v1/clusters/u?dryRun=true", true},
		{http.MethodPost, "/token", true},
		{http.MethodPatch, "/api/v1/clusters/u", false},
		{http.MethodPut, "/api/v1/clusters/u?dryRun=false", false},
		{http.MethodDelete, "/api/v1/clusters/u", false},
		{http.MethodPost, "/api/v1/clusters", false},
		{http.MethodPost, "/api/v1/clusters/u/servers/i/restart", false},
		{http.MethodPost, "/token/elsewhere", false},
	}
	for _, tc := range cases {
		before := reached.Load()
		req, err := http.NewRequest(tc.method, server.URL+tc.path, strings.NewReader("{}"))
		require.NoError(t, err)
		resp, err := client.Do(req)
		if tc.allowed {
			require.NoError(t, err, "%s %s", tc.method, tc.path)
			resp.Body.Close()
			require.Equal(t, before+1, reached.Load())
			continue
		}
		require.ErrorContains(t, err, "the check sends only GET and dryRun=true", "%s %s", tc.method, tc.path)
		require.Equal(t, before, reached.Load(), "%s %s reached the server", tc.method, tc.path)
	}
}
