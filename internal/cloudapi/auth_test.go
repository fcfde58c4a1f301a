package cloudapi_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

// Token lifecycle: one shared token, renewed before it expires, renewed
// once more after a 401, never shown.

// tokenFetches counts successful and failed token requests.
func (f *fixture) tokenFetches() int {
	n := 0
	for _, c := range f.sim.Calls() {
		if c.Operation == sim.OpToken {
			n++
		}
	}
	return n
}

// inParallel runs call n times at once and returns the errors.
func inParallel(n int, call func() error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = call()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func TestTokenIsFetchedOnceForConcurrentCallers(t *testing.T) {
	t.Parallel()
	f := setup(t)

	for _, err := range inParallel(50, func() error { _, err := f.client.ListClusters(ctx); return err }) {
		require.NoError(t, err)
	}
	require.Equal(t, 1, f.tokenFetches())
	calls, _ := f.countCalls(cloudapi.OpListClusters)
	require.Equal(t, 50, calls)
}

func TestTokenIsRenewedBeforeItExpires(t *testing.T) {
	t.Parallel()
	// The client renews 10 s before expiry, so an 11 s token is due after 1 s.
	f := setup(t, func(s *sim.Config, _ *cloudapi.Config) { s.TokenTTL = 11 * time.Second })

	_, err := f.client.ListClusters(ctx)
	require.NoError(t, err)
	_, err = f.client.ListClusters(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, f.tokenFetches(), "cached while valid")

	time.Sleep(1100 * time.Millisecond)
	_, err = f.client.ListClusters(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, f.tokenFetches())
	for _, c := range f.sim.Calls() {
		require.NotEqual(t, http.StatusUnauthorized, c.Status, "renewed before the service refused it")
	}
}

func TestRejectedTokenIsRenewedAndTheCallRetriedOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	created := f.create(t, exampleCluster(t, "after-401"))

	f.sim.ExpireTokens() // the lifespan ended early: the cached token is refused
	f.sim.ResetCalls()
	_, err := f.client.UpdateCluster(ctx, created.Metadata.UID, []byte(`{"spec":{"awsTags":[]}}`))
	require.NoError(t, err)

	var trace []string
	for _, c := range f.sim.Calls() {
		trace = append(trace, fmt.Sprintf("%s %d", c.Operation, c.Status))
	}
	require.Equal(t, []string{"updateCluster 401", "token 200", "updateCluster 200"}, trace)
}

func TestConcurrentCallersShareOneRenewalAfter401(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, err := f.client.ListClusters(ctx)
	require.NoError(t, err)

	f.sim.ExpireTokens()
	for _, err := range inParallel(20, func() error { _, err := f.client.ListClusters(ctx); return err }) {
		require.NoError(t, err)
	}
	require.Equal(t, 2, f.tokenFetches(), "the first token, then one renewal for all 20 callers")
}

func TestA401WithAFreshTokenIsReturned(t *testing.T) {
	t.Parallel()
	// Tokens expire at once on the service side: renewing does not help, and
	// the client gives up after one renewal rather than looping.
	f := setup(t, func(s *sim.Config, _ *cloudapi.Config) { s.TokenTTL = time.Nanosecond })
	_, err := f.client.ListClusters(ctx)
	require.Equal(t, http.StatusUnauthorized, apiError(t, err).StatusCode)
	require.False(t, cloudapi.IsRetryable(err))
	calls, _ := f.countCalls(cloudapi.OpListClusters)
	require.Equal(t, 2, calls)
}

func TestStaticToken(t *testing.T) {
	t.Parallel()
	f := setup(t)
	token, err := f.sim.IssueToken("portal", time.Minute)
	require.NoError(t, err)
	static := f.staticClient(t, token)

	_, err = static.ListClusters(ctx)
	require.NoError(t, err)

	f.sim.ExpireTokens()
	_, err = static.ListClusters(ctx)
	require.Equal(t, http.StatusUnauthorized, apiError(t, err).StatusCode, "a static token cannot be renewed")
	require.Zero(t, f.tokenFetches())
}

func TestWrongSecretIsATokenErrorThatHidesTheSecret(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const secret = "definitely-wrong-secret"
	wrong := f.newClient(t, func(c *cloudapi.Config) { c.ClientSecret = secret })

	_, err := wrong.ListClusters(ctx)
	require.ErrorContains(t, err, "fetch token")
	require.NotContains(t, err.Error(), secret)
	require.False(t, cloudapi.IsRetryable(err), "bad credentials do not heal")
	calls, _ := f.countCalls(cloudapi.OpListClusters)
	require.Zero(t, calls, "nothing is sent without a token")
}

func TestTokenEndpointOutageIsRetried(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.sim.InjectFault(sim.Fault{Operation: sim.OpToken, Status: http.StatusServiceUnavailable, Times: 2})

	// Even a create is retried: the request never left the client.
	created, err := f.client.CreateCluster(ctx, exampleCluster(t, "after-outage"))
	require.NoError(t, err)
	require.NotEmpty(t, created.Metadata.UID)
	require.Equal(t, 3, f.tokenFetches())
	_, mutations := f.countCalls(cloudapi.OpCreateCluster)
	require.Equal(t, 1, mutations)

	f.sim.InjectFault(sim.Fault{Operation: sim.OpToken, Status: http.StatusServiceUnavailable})
	f.sim.ExpireTokens()
	_, err = f.client.ListClusters(ctx)
	require.True(t, cloudapi.IsRetryable(err), "a token endpoint outage is worth retrying later: %v", err)
}

func TestSecretsNeverShow(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := setup(t, func(_ *sim.Config, c *cloudapi.Config) { c.Logger = logger })
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpListClusters, Status: http.StatusBadGateway, Times: 1})
	_, err := f.client.ListClusters(ctx)
	require.NoError(t, err)
	token, err := f.sim.IssueToken("portal", time.Minute)
	require.NoError(t, err)
	_, err = f.staticClient(t, token).ListClusters(ctx)
	require.NoError(t, err)

	cfg := f.config
	cfg.StaticToken = token
	logger.Info("config", "cfg", cfg)
	shown := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, &cfg, logs.String())
	require.Contains(t, shown, "cloudapi: retrying", "the logs were captured")
	require.Contains(t, shown, "client_secret=[redacted]")
	require.NotContains(t, shown, cfg.ClientSecret)
	require.NotContains(t, shown, token)
	for _, c := range f.sim.Calls() {
		require.NotContains(t, c.Body, cfg.ClientSecret, "the simulator's log redacts it too")
	}
}

func TestNewRefusesIncompleteOrUnsafeConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]cloudapi.Config{
		"no credentials":       {BaseURL: "https://acme.implycloud.com/api/v1"},
		"both kinds":           {BaseURL: "https://acme.implycloud.com/api/v1", StaticToken: "t", ClientID: "id"},
		"missing secret":       {BaseURL: "https://acme.implycloud.com/api/v1", TokenURL: "https://id.imply.io/t", ClientID: "id"},
		"plain http elsewhere": {BaseURL: "http://acme.implycloud.com/api/v1", StaticToken: "t"},
		"relative URL":         {BaseURL: "/api/v1", StaticToken: "t"},
		"plain http token URL": {BaseURL: "https://acme.implycloud.com/api/v1", TokenURL: "http://id.imply.io/t", ClientID: "id", ClientSecret: "s"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := cloudapi.New(cfg)
			require.Error(t, err)
		})
	}
}
