package cloudapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

// Which failures are retried, and the oracle of every fault test: the
// simulator's count of calls that changed state ("nothing lost, nothing
// duplicated").

func TestRetriesOfSafeCalls(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := f.create(t, exampleCluster(t, "retry"))
	id := c.Metadata.UID
	f.sim.ResetCalls()

	t.Run("5xx is retried until it succeeds", func(t *testing.T) {
		f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpGetCluster, Status: http.StatusServiceUnavailable, Times: 2})
		_, err := f.client.GetCluster(ctx, id)
		require.NoError(t, err)
		calls, _ := f.countCalls(cloudapi.OpGetCluster)
		require.Equal(t, 3, calls)
	})

	t.Run("retries stop after MaxAttempts", func(t *testing.T) {
		f.sim.ResetCalls()
		f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpListClusters, Status: http.StatusBadGateway, Times: 5})
		_, err := f.client.ListClusters(ctx)
		require.Equal(t, http.StatusBadGateway, apiError(t, err).StatusCode)
		require.True(t, cloudapi.IsRetryable(err))
		calls, _ := f.countCalls(cloudapi.OpListClusters)
		require.Equal(t, 3, calls)
		f.sim.ClearFaults()
	})

	t.Run("a time-out is retried", func(t *testing.T) {
		f.sim.ResetCalls()
		f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpGetCluster, Latency: time.Second, Times: 1})
		impatient := f.newClient(t, func(c *cloudapi.Config) { c.Timeout = 300 * time.Millisecond })
		_, err := impatient.GetCluster(ctx, id)
		require.NoError(t, err)
		calls, _ := f.countCalls(cloudapi.OpGetCluster)
		require.Equal(t, 2, calls)
	})

	t.Run("a dropped PATCH is sent again and applied once", func(t *testing.T) {
		f.sim.ResetCalls()
		f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpUpdateCluster, Drop: true, Times: 1})
		updated, err := f.client.UpdateCluster(ctx, id, json.RawMessage(`{"spec":{"awsTags":[{"name":"a","value":"1"}]}}`))
		require.NoError(t, err)
		require.EqualValues(t, 1, updated.Status.ResourceVersion)
		calls, mutations := f.countCalls(cloudapi.OpUpdateCluster)
		require.Equal(t, []int{2, 1}, []int{calls, mutations})
		waitSteady(t, f.client, id, defaultWait, pollEvery)
	})

	t.Run("a PATCH applied but unanswered is not applied twice", func(t *testing.T) {
		f.sim.ResetCalls()
		f.sim.PauseUpdates()
		defer f.sim.ResumeUpdates()
		f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpUpdateCluster, ApplyThenDrop: true, Times: 1})
		_, err := f.client.UpdateCluster(ctx, id, json.RawMessage(`{"spec":{"awsTags":[{"name":"a","value":"2"}]}}`))
		// The retry finds the cluster busy with the first attempt's update.
		require.True(t, cloudapi.IsBusy(err), "got %v", err)
		calls, mutations := f.countCalls(cloudapi.OpUpdateCluster)
		require.Equal(t, []int{2, 1}, []int{calls, mutations})
	})
}

func TestCreateIsNeverRepeated(t *testing.T) {
	t.Parallel()
	f := setup(t)

	t.Run("after a 5xx", func(t *testing.T) {
		f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpCreateCluster, Status: http.StatusInternalServerError, Times: 1})
		_, err := f.client.CreateCluster(ctx, exampleCluster(t, "once"))
		require.True(t, cloudapi.IsRetryable(err), "worth trying later, after reconciling: %v", err)
		calls, mutations := f.countCalls(cloudapi.OpCreateCluster)
		require.Equal(t, []int{1, 0}, []int{calls, mutations})
	})

	t.Run("after an unanswered create, which the caller finds by name", func(t *testing.T) {
		f.sim.ResetCalls()
		f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpCreateCluster, ApplyThenDrop: true, Times: 1})
		_, err := f.client.CreateCluster(ctx, exampleCluster(t, "ambiguous"))
		require.True(t, cloudapi.IsRetryable(err), "got %v", err)
		calls, mutations := f.countCalls(cloudapi.OpCreateCluster)
		require.Equal(t, []int{1, 1}, []int{calls, mutations})

		clusters, err := f.client.ListClusters(ctx)
		require.NoError(t, err)
		require.Len(t, clusters, 1)
		require.Equal(t, "ambiguous", clusters[0].Metadata.Name)
	})
}

func TestDeleteAppliedButUnansweredEndsInNotFound(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := f.create(t, exampleCluster(t, "gone"))
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpDeleteCluster, ApplyThenDrop: true, Times: 1})

	err := f.client.DeleteCluster(ctx, c.Metadata.UID)
	require.True(t, cloudapi.IsNotFound(err), "the retry finds it deleted: %v", err)
	calls, mutations := f.countCalls(cloudapi.OpDeleteCluster)
	require.Equal(t, []int{2, 1}, []int{calls, mutations})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	f := setup(t)
	limited := sim.Fault{Operation: cloudapi.OpListClusters, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Times: 1}

	t.Run("a wait longer than MaxDelay is left to the caller", func(t *testing.T) {
		f.sim.InjectFault(limited)
		_, err := f.client.ListClusters(ctx) // MaxDelay 20 ms
		require.True(t, cloudapi.IsRetryable(err))
		wait, ok := cloudapi.RetryAfter(err)
		require.True(t, ok)
		require.Equal(t, time.Second, wait)
		calls, _ := f.countCalls(cloudapi.OpListClusters)
		require.Equal(t, 1, calls)
	})

	t.Run("a wait within MaxDelay is honoured", func(t *testing.T) {
		f.sim.InjectFault(limited)
		patient := f.newClient(t, func(c *cloudapi.Config) { c.Retry.MaxDelay = 2 * time.Second })
		start := time.Now()
		_, err := patient.ListClusters(ctx)
		require.NoError(t, err)
		require.GreaterOrEqual(t, time.Since(start), time.Second)
	})
}

func TestErrorsThatAreNotRetried(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, status := range []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusForbidden} {
		f.sim.ResetCalls()
		f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpUpdateCluster, Status: status, Times: 1})
		_, err := f.client.UpdateCluster(ctx, unknownID, json.RawMessage(`{}`))
		require.Equal(t, status, apiError(t, err).StatusCode)
		require.False(t, cloudapi.IsRetryable(err), "status %d", status)
		calls, _ := f.countCalls(cloudapi.OpUpdateCluster)
		require.Equal(t, 1, calls, "status %d", status)
	}
}

func TestErrorRateIsAbsorbedByRetries(t *testing.T) {
	t.Parallel()
	f := setup(t, func(_ *sim.Config, c *cloudapi.Config) {
		c.Retry = cloudapi.RetryPolicy{MaxAttempts: 40, BaseDelay: time.Microsecond, MaxDelay: time.Millisecond}
	})
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpListClusters, ErrorRate: 0.5})
	for range 20 {
		_, err := f.client.ListClusters(ctx)
		require.NoError(t, err)
	}
	calls, _ := f.countCalls(cloudapi.OpListClusters)
	require.Greater(t, calls, 20)
}

func TestConnectionRefusedIsRetryable(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	client, err := cloudapi.New(cloudapi.Config{
		BaseURL:     dead.URL + "/api/v1",
		StaticToken: "t",
		Retry:       cloudapi.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond},
	})
	require.NoError(t, err)
	_, err = client.CreateCluster(ctx, exampleCluster(t, "nowhere"))
	require.True(t, cloudapi.IsRetryable(err), "got %v", err)
}

func TestTransportRules(t *testing.T) {
	t.Parallel()

	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	var userAgents []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		userAgents = append(userAgents, r.UserAgent())
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer api.Close()

	client, err := cloudapi.New(cloudapi.Config{BaseURL: api.URL + "/api/v1", StaticToken: "t", UserAgentVersion: "1.2.3"})
	require.NoError(t, err)
	_, err = client.ListClusters(ctx)
	require.ErrorContains(t, err, "refusing redirect")
	require.Zero(t, elsewhere.Load(), "the token never reaches another host")
	require.Equal(t, []string{"Clusterdesk/1.2.3"}, userAgents)
}
