package cloudapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

// fixture is a simulator on a real HTTP server and a client for it whose
// traffic is checked against openapi.yaml.
type fixture struct {
	sim    *sim.Server
	server *httptest.Server
	client *cloudapi.Client
	config cloudapi.Config // the client's configuration, to derive others
}

// setup starts a simulator with 10 ms stages and a client with fast
// retries; tweak may change either configuration first.
func setup(t *testing.T, tweak ...func(*sim.Config, *cloudapi.Config)) *fixture {
	t.Helper()
	simCfg := sim.Config{ClientID: "portal", ClientSecret: "portal-secret", Org: "acme", StageDuration: 10 * time.Millisecond}
	clientCfg := cloudapi.Config{
		ClientID:         simCfg.ClientID,
		ClientSecret:     simCfg.ClientSecret,
		Timeout:          5 * time.Second,
		Retry:            cloudapi.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond},
		UserAgentVersion: "test",
	}
	for _, f := range tweak {
		f(&simCfg, &clientCfg)
	}
	s, err := sim.New(simCfg)
	require.NoError(t, err)
	server := httptest.NewServer(s)
	t.Cleanup(func() {
		server.Close()
		require.NoError(t, s.Close())
	})
	if clientCfg.StaticToken != "" {
		clientCfg.ClientID, clientCfg.ClientSecret = "", ""
	} else {
		clientCfg.TokenURL = s.TokenURL(server.URL)
	}
	clientCfg.BaseURL = s.APIURL(server.URL)
	if clientCfg.HTTPClient == nil {
		clientCfg.HTTPClient = &http.Client{Transport: newOpenAPIValidator(t, clientCfg.BaseURL, nil)}
	}
	client, err := cloudapi.New(clientCfg)
	require.NoError(t, err)
	return &fixture{sim: s, server: server, client: client, config: clientCfg}
}

// newClient returns another client of f's simulator, configured by tweak.
func (f *fixture) newClient(t *testing.T, tweak func(*cloudapi.Config)) *cloudapi.Client {
	t.Helper()
	cfg := f.config
	tweak(&cfg)
	client, err := cloudapi.New(cfg)
	require.NoError(t, err)
	return client
}

// staticClient returns a client of f's simulator that sends token.
func (f *fixture) staticClient(t *testing.T, token string) *cloudapi.Client {
	return f.newClient(t, func(c *cloudapi.Config) {
		*c = cloudapi.Config{BaseURL: c.BaseURL, StaticToken: token, Retry: c.Retry, HTTPClient: c.HTTPClient}
	})
}

// countCalls counts the calls of op in the simulator's log, and those that
// changed state.
func (f *fixture) countCalls(op cloudapi.Operation) (calls, mutations int) {
	for _, c := range f.sim.Calls() {
		if c.Operation == op {
			calls++
			if c.Mutated {
				mutations++
			}
		}
	}
	return calls, mutations
}

// Polling of the simulator's 10 ms stages.
const (
	defaultWait = 5 * time.Second
	pollEvery   = 2 * time.Millisecond
)

// create creates a cluster from body and waits until it has settled.
func (f *fixture) create(t *testing.T, body *cloudapi.Cluster) *cloudapi.Cluster {
	t.Helper()
	created, err := f.client.CreateCluster(context.Background(), body)
	require.NoError(t, err)
	return waitSteady(t, f.client, created.Metadata.UID, defaultWait, pollEvery)
}

// waitSteady polls cluster id until no change runs on it and returns it.
func waitSteady(t *testing.T, client *cloudapi.Client, id string, timeout, every time.Duration) *cloudapi.Cluster {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := client.GetCluster(context.Background(), id)
		require.NoError(t, err)
		if !c.Status.State.Busy() && c.Status.UpdateState == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s still %s after %s", id, c.Status.State, timeout)
		}
		time.Sleep(every)
	}
}

// exampleCluster is the documented create example under another name.
func exampleCluster(t testing.TB, name string) *cloudapi.Cluster {
	t.Helper()
	var c cloudapi.Cluster
	require.NoError(t, json.Unmarshal([]byte(documentedCreateBody), &c))
	c.Metadata.Name = name
	return &c
}

// haCluster is a highly available cluster (3 masters), which takes
// rolling updates.
func haCluster(t testing.TB, name string) *cloudapi.Cluster {
	c := exampleCluster(t, name)
	c.Spec.Master.Replicas = ptr[int32](3)
	return c
}

func ptr[T any](v T) *T { return &v }

// documentedCreateBody is the body of Imply's create example.
const documentedCreateBody = `{
  "metadata": {"name": "test-1"},
  "spec": {
    "version": "2021.06",
    "awsInstanceRole": "imply-instance",
    "awsTags": [],
    "encryptVolumes": true,
    "commonRuntimeProperties": [],
    "master": {"replicas": 1, "instanceType": "t2.small", "coordinatorRuntimeProperties": [], "overlordRuntimeProperties": []},
    "query": {"replicas": 3, "instanceType": "t2.small", "brokerRuntimeProperties": [], "routerRuntimeProperties": []},
    "data": {
      "historicalRuntimeProperties": [],
      "middleManagerRuntimeProperties": [],
      "tier1": {"replicas": 1, "instanceType": "t2.small", "historicalRuntimeProperties": [], "middleManagerRuntimeProperties": []}
    },
    "metadataStore": {"instanceType": "db.t3.small", "diskSize": 27, "backupRetention": 14, "encrypt": true},
    "pivot": {"accessMode": "PROXIED"},
    "deepStorage": {"path": "s3://my-bucket/prefix", "encrypt": true},
    "druidExtensions": [],
    "featureFlags": [],
    "customFiles": []
  }
}`
