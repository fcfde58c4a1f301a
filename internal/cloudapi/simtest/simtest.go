// Package simtest serves a Cloud Manager simulator on a real HTTP server for
// tests, with a client of the portal's own kind pointed at it.
package simtest

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

// Start serves a simulator seeded with the demo clusters (analytics-prod,
// analytics-staging, clickstream-dev) whose stages take stage, and returns it
// with a client that retries quickly. Both stop when the test ends.
func Start(tb testing.TB, stage time.Duration) (*sim.Server, *cloudapi.Client) {
	tb.Helper()
	s, err := sim.New(sim.Config{SeedDemo: true, StageDuration: stage})
	if err != nil {
		tb.Fatalf("simtest: %v", err)
	}
	server := httptest.NewServer(s)
	tb.Cleanup(func() {
		server.Close()
		if err := s.Close(); err != nil {
			tb.Errorf("simtest: close simulator: %v", err)
		}
	})
	return s, Client(tb, s, server.URL)
}

// Client is a client for simulator s served at baseURL, with the simulator's
// default credentials and millisecond retries.
func Client(tb testing.TB, s *sim.Server, baseURL string) *cloudapi.Client {
	tb.Helper()
	client, err := cloudapi.New(cloudapi.Config{
		BaseURL: s.APIURL(baseURL), TokenURL: s.TokenURL(baseURL),
		ClientID: "clusterdesk", ClientSecret: "clusterdesk-sim-secret",
		Retry: cloudapi.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond},
	})
	if err != nil {
		tb.Fatalf("simtest: %v", err)
	}
	return client
}
