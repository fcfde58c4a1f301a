package sim

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// send makes a request with ctx and the harness's token; err is the
// client's error, when it got no answer.
func (h *harness) send(ctx context.Context, t *testing.T, method, path, body string) (int, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, h.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Content-Type", "application/merge-patch+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

// landed waits until the call log holds n calls of op and returns them.
func (h *harness) landed(t *testing.T, op cloudapi.Operation, n int) []Call {
	t.Helper()
	var calls []Call
	require.Eventually(t, func() bool {
		calls = calls[:0]
		for _, c := range h.sim.Calls() {
			if c.Operation == op {
				calls = append(calls, c)
			}
		}
		return len(calls) >= n
	}, 10*time.Second, time.Millisecond)
	require.Len(t, calls, n)
	return calls
}

func TestLateLanding(t *testing.T) {
	t.Parallel()
	const delay = 500 * time.Millisecond
	const tags = `{"spec":{"awsTags":[{"name":"landed","value":"late"}]}}`

	t.Run("applied after the client gave up, once, on time", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, Config{})
		uid := h.create(t, minimalCluster)
		h.sim.ResetCalls()
		h.sim.InjectFault(Fault{Operation: cloudapi.OpUpdateCluster, LateLanding: delay, Times: 1})

		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := h.send(ctx, t, "PATCH", "/api/v1/clusters/"+uid, tags)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		// The check of the token was made on arrival: revoking it now does
		// not stop the landing.
		h.sim.ExpireTokens()
		h.token, err = h.sim.IssueToken(h.sim.cfg.ClientID, time.Hour)
		require.NoError(t, err)
		before := h.cluster(t, uid)
		if time.Since(start) < delay { // this read was answered before the landing was due
			require.Zero(t, before.Status.ResourceVersion, "not applied early")
		}

		calls := h.landed(t, cloudapi.OpUpdateCluster, 1)
		call := calls[0]
		require.True(t, call.Mutated)
		require.Zero(t, call.Status, "nobody was there to answer")
		require.Equal(t, uid, call.ClusterID)
		require.Equal(t, "fault 1: late landing 500ms", call.Fault)
		require.GreaterOrEqual(t, call.AppliedAt.Sub(call.Time), delay, "applied at arrival + delay")
		after := h.cluster(t, uid)
		require.EqualValues(t, 1, after.Status.ResourceVersion)
		require.Contains(t, mustJSON(t, after.Spec), `"landed"`)
		require.Len(t, h.landed(t, cloudapi.OpUpdateCluster, 1), 1, "recorded once")
	})

	t.Run("a client that waits gets the real answer", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, Config{})
		uid := h.create(t, minimalCluster)
		h.sim.InjectFault(Fault{Operation: cloudapi.OpUpdateCluster, LateLanding: 100 * time.Millisecond, Times: 1})
		start := time.Now()
		status, body := h.patch(t, uid, "", tags)
		require.Equal(t, http.StatusOK, status, body)
		require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
		require.Contains(t, body, `"resourceVersion":1`)
		call := h.landed(t, cloudapi.OpUpdateCluster, 1)[0]
		require.Equal(t, http.StatusOK, call.Status)
		require.True(t, call.Mutated)
		require.False(t, call.AppliedAt.IsZero())
	})

	t.Run("with Status the client hears at once and the call lands later", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, Config{})
		uid := h.create(t, minimalCluster)
		h.sim.InjectFault(Fault{Operation: cloudapi.OpUpdateCluster, LateLanding: delay, Status: http.StatusGatewayTimeout, Times: 1})
		start := time.Now()
		status, _ := h.patch(t, uid, "", tags)
		require.Equal(t, http.StatusGatewayTimeout, status)
		require.Less(t, time.Since(start), delay, "answered before the landing")
		call := h.landed(t, cloudapi.OpUpdateCluster, 1)[0]
		require.Equal(t, http.StatusGatewayTimeout, call.Status)
		require.True(t, call.Mutated)
		require.EqualValues(t, 1, h.cluster(t, uid).Status.ResourceVersion)
	})

	t.Run("Close abandons a landing still waiting", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, Config{})
		h.sim.InjectFault(Fault{Operation: cloudapi.OpCreateCluster, LateLanding: time.Hour, Times: 1})
		answered := make(chan int, 1)
		go func() {
			status, _ := h.send(context.Background(), t, "POST", "/api/v1/clusters", minimalCluster)
			answered <- status
		}()
		require.Eventually(t, func() bool { return len(h.sim.Faults()) == 0 }, 5*time.Second, time.Millisecond, "the call arrived")
		require.NoError(t, h.sim.Close())
		require.Equal(t, http.StatusServiceUnavailable, <-answered)
		call := h.landed(t, cloudapi.OpCreateCluster, 1)[0]
		require.False(t, call.Mutated)
		require.True(t, call.AppliedAt.IsZero())
		h.sim.mu.Lock()
		defer h.sim.mu.Unlock()
		require.Empty(t, h.sim.clusters)
	})
}

func TestFaultFilters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	a, b := h.create(t, minimalCluster), h.create(t, minimalCluster)
	yes, no := true, false
	patch := func(uid, query string) int {
		t.Helper()
		status, body := h.patch(t, uid, query, `{"spec":{"awsTags":[{"name":"n","value":"`+query+time.Now().String()+`"}]}}`)
		if status == http.StatusOK {
			h.settle(t, uid)
		}
		require.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, status, body)
		return status
	}

	h.sim.InjectFault(Fault{Operation: cloudapi.OpUpdateCluster, DryRun: &yes, Status: http.StatusServiceUnavailable})
	require.Equal(t, http.StatusServiceUnavailable, patch(a, "?dryRun=true"))
	require.Equal(t, http.StatusOK, patch(a, ""), "dryRun: true spares real calls")
	h.sim.ClearFaults()

	h.sim.InjectFault(Fault{Operation: cloudapi.OpUpdateCluster, DryRun: &no, Status: http.StatusServiceUnavailable})
	require.Equal(t, http.StatusOK, patch(a, "?dryRun=true"), "dryRun: false spares dry runs")
	require.Equal(t, http.StatusServiceUnavailable, patch(a, ""))
	require.Equal(t, http.StatusServiceUnavailable, patch(a, "?dryRun=false"))
	h.sim.ClearFaults()

	h.sim.InjectFault(Fault{ClusterID: b, Status: http.StatusServiceUnavailable})
	require.Equal(t, http.StatusOK, patch(a, ""))
	require.Equal(t, http.StatusServiceUnavailable, patch(b, ""))
	status, _, _ := h.do(t, "GET", "/api/v1/clusters/"+b, "")
	require.Equal(t, http.StatusServiceUnavailable, status, "every operation on b")
	status, _, _ = h.do(t, "GET", "/api/v1/clusters", "")
	require.Equal(t, http.StatusOK, status, "a list names no cluster")
	h.sim.ClearFaults()

	status, _, reply := h.do(t, "POST", "/_sim/faults", `{"operation":"updateCluster","dryRun":false,"clusterId":"`+b+`","lateLanding":"2s","times":1}`)
	require.Equal(t, http.StatusCreated, status, reply)
	require.JSONEq(t, `[{"id":4,"operation":"updateCluster","dryRun":false,"clusterId":"`+b+`","lateLanding":"2s","times":1}]`, reply)
	f := h.sim.Faults()[0]
	require.Equal(t, 2*time.Second, f.LateLanding)
	require.Equal(t, &no, f.DryRun)
	status, _, _ = h.do(t, "POST", "/_sim/faults", `{"lateLanding":"later"}`)
	require.Equal(t, http.StatusBadRequest, status)
}

func TestForbiddenBody(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{Clients: []OAuthClient{{ID: "viewer", Secret: "v"}}})
	uid := h.create(t, minimalCluster)
	viewer, err := h.sim.IssueToken("viewer", time.Hour)
	require.NoError(t, err)
	for _, req := range [][2]string{{"GET", "/api/v1/clusters"}, {"PATCH", "/api/v1/clusters/" + uid}, {"DELETE", "/api/v1/clusters/" + uid}} {
		status, header, body := h.do(t, req[0], req[1], `{"spec":{"version":"x"}}`, "Authorization", "Bearer "+viewer, "Content-Type", "application/merge-patch+json")
		require.Equal(t, http.StatusForbidden, status, req)
		require.Equal(t, "application/json", header.Get("Content-Type"))
		require.JSONEq(t, `{"error":{"code":"Unauthorized","message":"Provided user does not have permissions to complete this request"}}`, body,
			"the documented body (openapi.yaml, Forbidden)")
	}
	for _, c := range h.sim.Calls() {
		require.False(t, c.Mutated && c.Status == http.StatusForbidden)
	}
	require.Zero(t, h.cluster(t, uid).Status.ResourceVersion, "nothing changed")
}

func TestOversizedBody(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	status, _, body := h.do(t, "POST", "/api/v1/clusters", strings.Repeat(" ", maxRequestBody+1))
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
	code, _ := errorCode(t, body)
	require.Equal(t, CodePayloadTooLarge, code)
	calls := h.sim.Calls()
	require.Len(t, calls, 1)
	require.Equal(t, http.StatusRequestEntityTooLarge, calls[0].Status)
	require.False(t, calls[0].Mutated)

	status, _, body = h.do(t, "POST", "/api/v1/clusters", strings.Repeat(" ", maxRequestBody))
	require.Equal(t, http.StatusBadRequest, status, "at the limit the body is read (and found empty)")
	code, _ = errorCode(t, body)
	require.Equal(t, cloudapi.CodeBadArgument, code)
}
