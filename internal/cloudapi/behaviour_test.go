package cloudapi_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

func TestBehaviourDefaults(t *testing.T) {
	t.Parallel()
	d := cloudapi.DefaultBehaviour()
	require.Equal(t, []cloudapi.ClusterState{cloudapi.StateStarted, cloudapi.StateRunning}, d.RunningStates)
	require.Equal(t, []cloudapi.ClusterState{cloudapi.StateStopped}, d.StoppedStates)
	require.Equal(t, []cloudapi.ClusterState{cloudapi.StatePending, cloudapi.StateUpdating}, d.BusyStates)
	require.Equal(t, []cloudapi.HealthStatus{cloudapi.HealthOK}, d.HealthyValues)
	require.Equal(t, "POST /clusters/{clusterId}/servers/{instanceId}/restart", d.RestartRoute)
	require.False(t, d.FillsDefaults)
	require.NoError(t, d.Validate())
	require.Equal(t, d, cloudapi.Behaviour{}.WithDefaults(), "the zero value means the defaults")

	var zero cloudapi.Behaviour
	for _, tc := range []struct {
		state                  cloudapi.ClusterState
		running, stopped, busy bool
	}{
		{cloudapi.StateStarted, true, false, false},
		{"RUNNING", true, false, false},
		{cloudapi.StateStopped, false, true, false},
		{cloudapi.StatePending, false, false, true},
		{cloudapi.StateUpdating, false, false, true},
		{"HIBERNATING", false, false, false},
		{"", false, false, false},
	} {
		require.Equal(t, tc.running, zero.Running(tc.state), tc.state)
		require.Equal(t, tc.stopped, zero.Stopped(tc.state), tc.state)
		require.Equal(t, tc.busy, zero.Busy(tc.state), tc.state)
		require.Equal(t, tc.busy, tc.state.Busy(), "ClusterState.Busy is the default behaviour's: %s", tc.state)
	}
	require.True(t, zero.Healthy(cloudapi.HealthOK))
	require.False(t, zero.Healthy("DEGRADED"))
}

func TestBehaviourWithDefaultsKeepsWhatIsSet(t *testing.T) {
	t.Parallel()
	b := cloudapi.Behaviour{
		RunningStates: []cloudapi.ClusterState{"ACTIVE"},
		HealthyValues: []cloudapi.HealthStatus{"GREEN", "OK"},
		RestartRoute:  " DELETE /clusters/{clusterId}/servers/{instanceId} ",
		FillsDefaults: true,
	}
	got := b.WithDefaults()
	require.Equal(t, []cloudapi.ClusterState{"ACTIVE"}, got.RunningStates)
	require.Equal(t, cloudapi.DefaultBehaviour().StoppedStates, got.StoppedStates)
	require.Equal(t, cloudapi.DefaultBehaviour().BusyStates, got.BusyStates)
	require.Equal(t, []cloudapi.HealthStatus{"GREEN", "OK"}, got.HealthyValues)
	require.Equal(t, "DELETE /clusters/{clusterId}/servers/{instanceId}", got.RestartRoute)
	require.True(t, got.FillsDefaults)

	got.RunningStates[0] = "CHANGED"
	require.Equal(t, cloudapi.ClusterState("ACTIVE"), b.RunningStates[0], "WithDefaults copies the lists")

	require.True(t, b.Running("ACTIVE"))
	require.False(t, b.Running(cloudapi.StateStarted), "a list set replaces the default")
	require.True(t, b.Busy(cloudapi.StateUpdating), "an empty list is the default")
	require.True(t, b.Healthy("GREEN"))
}

func TestBehaviourValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		b    cloudapi.Behaviour
		want string // part of the error; empty: valid
	}{
		{"defaults", cloudapi.Behaviour{}, ""},
		{"another route", cloudapi.Behaviour{RestartRoute: "PUT /clusters/{clusterId}/instances/{instanceId}:restart"}, ""},
		{"several names per state", cloudapi.Behaviour{RunningStates: []cloudapi.ClusterState{"STARTED", "ACTIVE"}, BusyStates: []cloudapi.ClusterState{"PENDING", "UPDATING", "RESIZING"}}, ""},
		{"no method", cloudapi.Behaviour{RestartRoute: "/clusters/{clusterId}/servers/{instanceId}"}, `want "METHOD /path"`},
		{"unknown method", cloudapi.Behaviour{RestartRoute: "RESTART /clusters/{clusterId}/servers/{instanceId}"}, `method "RESTART"`},
		{"lower-case method", cloudapi.Behaviour{RestartRoute: "post /clusters/{clusterId}/servers/{instanceId}"}, `method "post"`},
		{"relative path", cloudapi.Behaviour{RestartRoute: "POST clusters/{clusterId}/servers/{instanceId}"}, "must start with /"},
		{"query", cloudapi.Behaviour{RestartRoute: "POST /clusters/{clusterId}/servers/{instanceId}?restart=true"}, "no space, query"},
		{"no instance", cloudapi.Behaviour{RestartRoute: "POST /clusters/{clusterId}/restart"}, "{instanceId} once (found 0)"},
		{"no cluster", cloudapi.Behaviour{RestartRoute: "POST /servers/{instanceId}"}, "{clusterId} once (found 0)"},
		{"twice", cloudapi.Behaviour{RestartRoute: "POST /clusters/{clusterId}/{clusterId}/servers/{instanceId}"}, "{clusterId} once (found 2)"},
		{"other placeholder", cloudapi.Behaviour{RestartRoute: "POST /clusters/{clusterId}/servers/{instanceId}/{action}"}, "only {clusterId} and {instanceId}"},
		{"running and busy", cloudapi.Behaviour{RunningStates: []cloudapi.ClusterState{"STARTED"}, BusyStates: []cloudapi.ClusterState{"STARTED"}}, `"STARTED" cannot be both running and busy`},
		{"running and busy by default", cloudapi.Behaviour{RunningStates: []cloudapi.ClusterState{"UPDATING"}}, `"UPDATING" cannot be both running and busy`},
		{"stopped and running", cloudapi.Behaviour{StoppedStates: []cloudapi.ClusterState{"STARTED"}}, `"STARTED" cannot be both running and stopped`},
		{"empty state", cloudapi.Behaviour{BusyStates: []cloudapi.ClusterState{""}}, "an empty state among the busy states"},
		{"empty health", cloudapi.Behaviour{HealthyValues: []cloudapi.HealthStatus{""}}, "an empty value among the healthy values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.b.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "cloudapi: behaviour: ")
		})
	}
}

func TestNewRefusesAnInvalidBehaviour(t *testing.T) {
	t.Parallel()
	_, err := cloudapi.New(cloudapi.Config{BaseURL: "http://127.0.0.1:1/api/v1", StaticToken: "t",
		Behaviour: cloudapi.Behaviour{RestartRoute: "POST /clusters/{clusterId}/restart"}})
	require.ErrorContains(t, err, "{instanceId}")
}

func TestClientBehaviour(t *testing.T) {
	t.Parallel()
	c, err := cloudapi.New(cloudapi.Config{BaseURL: "http://127.0.0.1:1/api/v1", StaticToken: "t",
		Behaviour: cloudapi.Behaviour{RunningStates: []cloudapi.ClusterState{"ACTIVE"}, FillsDefaults: true}})
	require.NoError(t, err)
	b := c.Behaviour()
	require.Equal(t, []cloudapi.ClusterState{"ACTIVE"}, b.RunningStates)
	require.Equal(t, cloudapi.DefaultBehaviour().RestartRoute, b.RestartRoute, "completed with the defaults")
	require.True(t, b.FillsDefaults)
	b.RunningStates[0] = "CHANGED"
	require.True(t, c.Behaviour().Running("ACTIVE"), "the client's behaviour is not the caller's to change")

	plain, err := cloudapi.New(cloudapi.Config{BaseURL: "http://127.0.0.1:1/api/v1", StaticToken: "t"})
	require.NoError(t, err)
	require.Equal(t, cloudapi.DefaultBehaviour(), plain.Behaviour())
}

// requestLog is an httptest handler that records each request's method
// and escaped path and answers with status.
type requestLog struct {
	mu     sync.Mutex
	calls  []string
	status int
}

func (l *requestLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	l.calls = append(l.calls, r.Method+" "+r.URL.EscapedPath())
	l.mu.Unlock()
	w.WriteHeader(l.status)
}

func (l *requestLog) recorded() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

func TestRestartServerUsesTheConfiguredRoute(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		route, want string
	}{
		{"", "POST /api/v1/clusters/c%2F1/servers/i-1%20x/restart"},
		{"DELETE /clusters/{clusterId}/servers/{instanceId}", "DELETE /api/v1/clusters/c%2F1/servers/i-1%20x"},
		{"PUT /servers/{instanceId}/of/{clusterId}", "PUT /api/v1/servers/i-1%20x/of/c%2F1"},
	} {
		log := &requestLog{status: http.StatusNoContent}
		server := httptest.NewServer(log)
		client, err := cloudapi.New(cloudapi.Config{BaseURL: server.URL + "/api/v1", StaticToken: "t",
			Behaviour: cloudapi.Behaviour{RestartRoute: tc.route}})
		require.NoError(t, err)
		require.NoError(t, client.RestartServer(ctx, "c/1", "i-1 x"))
		require.Equal(t, []string{tc.want}, log.recorded(), "route %q", tc.route)
		server.Close()
	}
}

func TestBehaviourRestartRequest(t *testing.T) {
	t.Parallel()
	method, path, err := cloudapi.Behaviour{}.RestartRequest("c/1", "i 1")
	require.NoError(t, err)
	require.Equal(t, "POST", method)
	require.Equal(t, "/clusters/c%2F1/servers/i%201/restart", path)

	method, path, err = cloudapi.Behaviour{RestartRoute: "DELETE /clusters/{clusterId}/servers/{instanceId}"}.RestartRequest("c1", "i-1")
	require.NoError(t, err)
	require.Equal(t, "DELETE /clusters/c1/servers/i-1", method+" "+path)

	_, _, err = cloudapi.Behaviour{RestartRoute: "POST /restart"}.RestartRequest("c1", "i-1")
	require.ErrorContains(t, err, "{clusterId} once")
}

func TestRestartServerIsNotRetriedWhateverItsMethod(t *testing.T) {
	t.Parallel()
	log := &requestLog{status: http.StatusServiceUnavailable}
	server := httptest.NewServer(log)
	defer server.Close()
	client, err := cloudapi.New(cloudapi.Config{BaseURL: server.URL + "/api/v1", StaticToken: "t",
		Retry:     cloudapi.RetryPolicy{MaxAttempts: 3},
		Behaviour: cloudapi.Behaviour{RestartRoute: "DELETE /clusters/{clusterId}/servers/{instanceId}"}})
	require.NoError(t, err)

	err = client.RestartServer(ctx, "c1", "i-1")
	require.True(t, cloudapi.IsRetryable(err), "a 503: %v", err)
	require.Len(t, log.recorded(), 1, "a restart that may have reached the service is not sent again")

	require.Error(t, client.DeleteCluster(ctx, "c1"))
	require.Len(t, log.recorded(), 4, "a DELETE of a cluster is retried (the control)")
}

func TestRestartServerWithAnotherRouteAgainstTheSimulator(t *testing.T) {
	t.Parallel()
	const route = "DELETE /clusters/{clusterId}/servers/{instanceId}"
	f := setup(t, func(s *sim.Config, c *cloudapi.Config) {
		s.RestartRoute = route
		c.Behaviour.RestartRoute = route
		// openapi.yaml documents only the default route: no validator.
		c.HTTPClient = &http.Client{}
	})
	c := f.create(t, exampleCluster(t, "restart-delete"))
	victim := c.Status.Servers[0].InstanceID
	require.NoError(t, f.client.RestartServer(ctx, c.Metadata.UID, victim))
	after := waitSteady(t, f.client, c.Metadata.UID, defaultWait, pollEvery)
	require.NotEqual(t, victim, after.Status.Servers[0].InstanceID, "the server was replaced")
	calls, _ := f.countCalls(cloudapi.OpRestartServer)
	require.Equal(t, 1, calls)

	defaultRoute := f.newClient(t, func(cfg *cloudapi.Config) { cfg.Behaviour = cloudapi.Behaviour{} })
	err := defaultRoute.RestartServer(ctx, c.Metadata.UID, after.Status.Servers[0].InstanceID)
	require.True(t, cloudapi.IsNotFound(err), "the simulator serves only its route: %v", err)

	require.ErrorContains(t, f.client.RestartServer(ctx, c.Metadata.UID, ""), "empty instance id")
	require.ErrorContains(t, f.client.RestartServer(ctx, "", victim), "empty cluster id")
}

func TestDefaultBehaviourKnowsATenantThatSaysRunning(t *testing.T) {
	t.Parallel()
	f := setup(t, func(s *sim.Config, _ *cloudapi.Config) { s.RunningState = cloudapi.StateRunning })
	c := f.create(t, exampleCluster(t, "running"))
	require.Equal(t, cloudapi.StateRunning, c.Status.State)
	b := f.client.Behaviour()
	require.True(t, b.Running(c.Status.State))
	require.False(t, b.Busy(c.Status.State))
	require.True(t, b.Healthy(c.Status.Status))
}
