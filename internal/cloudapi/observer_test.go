package cloudapi_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

// observed records what a client tells its Observer.
type observed struct {
	mu     sync.Mutex
	calls  []string // "operation status error?"
	tokens []bool   // one per fetch: whether it succeeded
}

func (o *observed) CallDone(op cloudapi.Operation, status int, err error, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, string(op)+" "+http.StatusText(status)+map[bool]string{true: " failed", false: ""}[err != nil])
}

func (o *observed) TokenFetched(err error, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tokens = append(o.tokens, err == nil)
}

// The observer sees every attempt, retries included, with its status, and
// every token request, failed ones included; a cached token is no fetch.
func TestObserverSeesEveryAttemptAndTokenFetch(t *testing.T) {
	t.Parallel()
	obs := &observed{}
	f := setup(t, func(_ *sim.Config, c *cloudapi.Config) { c.Observer = obs })
	f.sim.InjectFault(sim.Fault{Operation: sim.OpToken, Status: http.StatusServiceUnavailable, Times: 1})
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpListClusters, Status: http.StatusBadGateway, Times: 1})

	_, err := f.client.ListClusters(ctx)
	require.NoError(t, err)
	_, err = f.client.GetCluster(ctx, "00000000-0000-4000-8000-000000000000")
	require.True(t, cloudapi.IsNotFound(err))

	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.Equal(t, []bool{false, true}, obs.tokens, "the failed fetch, then one token for every call")
	require.Equal(t, []string{
		"listClusters Bad Gateway failed",
		"listClusters OK",
		"getCluster Not Found failed",
	}, obs.calls, "a token failure is no call; the retry is one")
}
