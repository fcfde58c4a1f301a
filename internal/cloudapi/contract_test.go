package cloudapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// The contract suite states what Clusterdesk relies on, in terms of the
// client. It runs against the simulator unless these are set:
//
//	PORTAL_CONTRACT_API_URL        e.g. https://acme.implycloud.com/api/v1
//	PORTAL_CONTRACT_TOKEN_URL      e.g. https://id.imply.io/auth/realms/acme/protocol/openid-connect/token
//	PORTAL_CONTRACT_CLIENT_ID, PORTAL_CONTRACT_CLIENT_SECRET
//	PORTAL_CONTRACT_DESTRUCTIVE=1  also create, change and delete a cluster
//	PORTAL_CONTRACT_AWS_ROLE, PORTAL_CONTRACT_DEEP_STORAGE
//	                               the instance role and s3:// path of that cluster
//	PORTAL_CONTRACT_IMPLY_VERSION  its Imply release (default: the documented 2021.06)
//
// Against a tenant, every request and reply is still checked against
// openapi.yaml, which makes the suite the way to confirm the inferences.

// contractTarget is the service under test.
type contractTarget struct {
	client      *cloudapi.Client
	unauth      *cloudapi.Client // sends a token the service never issued
	simulated   bool
	destructive bool
	wait, poll  time.Duration // for a change to finish
	newCluster  func(t *testing.T) *cloudapi.Cluster
	// hold keeps running changes from finishing until the returned func
	// is called; a real tenant's changes last long enough by themselves.
	hold func() (release func())
}

func newContractTarget(t *testing.T) *contractTarget {
	apiURL := os.Getenv("PORTAL_CONTRACT_API_URL")
	if apiURL == "" {
		t.Log("contract: PORTAL_CONTRACT_API_URL is not set; running against the simulator")
		f := setup(t)
		return &contractTarget{
			client:      f.client,
			unauth:      f.staticClient(t, "not-a-token"),
			simulated:   true,
			destructive: true,
			wait:        5 * time.Second,
			poll:        2 * time.Millisecond,
			newCluster:  func(t *testing.T) *cloudapi.Cluster { return exampleCluster(t, "clusters-example") },
			hold: func() func() {
				f.sim.PauseUpdates()
				return f.sim.ResumeUpdates
			},
		}
	}

	t.Logf("contract: running against %s", apiURL)
	env := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			t.Fatalf("contract: %s must be set along with PORTAL_CONTRACT_API_URL", name)
		}
		return v
	}
	httpClient := &http.Client{Transport: newOpenAPIValidator(t, apiURL, nil)}
	client, err := cloudapi.New(cloudapi.Config{
		BaseURL:          apiURL,
		TokenURL:         env("PORTAL_CONTRACT_TOKEN_URL"),
		ClientID:         env("PORTAL_CONTRACT_CLIENT_ID"),
		ClientSecret:     env("PORTAL_CONTRACT_CLIENT_SECRET"),
		HTTPClient:       httpClient,
		UserAgentVersion: "contract-test",
	})
	require.NoError(t, err)
	unauth, err := cloudapi.New(cloudapi.Config{BaseURL: apiURL, StaticToken: "not-a-token", HTTPClient: httpClient})
	require.NoError(t, err)
	target := &contractTarget{
		client:      client,
		unauth:      unauth,
		destructive: os.Getenv("PORTAL_CONTRACT_DESTRUCTIVE") == "1",
		wait:        60 * time.Minute,
		poll:        30 * time.Second,
		hold:        func() func() { return func() {} },
	}
	if target.destructive {
		role, path := env("PORTAL_CONTRACT_AWS_ROLE"), env("PORTAL_CONTRACT_DEEP_STORAGE")
		target.newCluster = func(t *testing.T) *cloudapi.Cluster {
			c := exampleCluster(t, fmt.Sprintf("clusters-example-%d", time.Now().Unix()))
			c.Spec.AWSInstanceRole = role
			c.Spec.DeepStorage.Path = path
			if v := os.Getenv("PORTAL_CONTRACT_IMPLY_VERSION"); v != "" {
				c.Spec.Version = v
			}
			return c
		}
	}
	return target
}

func TestContract(t *testing.T) {
	target := newContractTarget(t)
	ctx := context.Background()
	unknownID := "0b5e1c3e-8d5f-4a57-9a0e-6f1a0c2b9d11"

	t.Run("list returns every cluster with its identity", func(t *testing.T) {
		clusters, err := target.client.ListClusters(ctx)
		require.NoError(t, err)
		for _, c := range clusters {
			require.NotEmpty(t, c.Metadata.UID)
			require.NotNil(t, c.Status)
		}
	})

	t.Run("unknown cluster is 404 NotFound", func(t *testing.T) {
		_, err := target.client.GetCluster(ctx, unknownID)
		require.True(t, cloudapi.IsNotFound(err), "got %v", err)
		require.Equal(t, cloudapi.CodeNotFound, apiError(t, err).Code)

		_, err = target.client.GetClusterVersion(ctx, unknownID, 0)
		require.True(t, cloudapi.IsNotFound(err), "got %v", err)
	})

	t.Run("a token the service did not issue is 401 Unauthorized", func(t *testing.T) {
		_, err := target.unauth.ListClusters(ctx)
		e := apiError(t, err)
		require.Equal(t, http.StatusUnauthorized, e.StatusCode)
		require.Equal(t, cloudapi.CodeUnauthorized, e.Code)
	})

	t.Run("dry run reports each invalid field (documented example)", func(t *testing.T) {
		c := exampleCluster(t, "")
		c.Spec.DeepStorage.Path = "my-bucket/prefix"
		_, err := target.client.CreateCluster(sendingInvalid(ctx), c, cloudapi.DryRun())
		e := apiError(t, err)
		require.Equal(t, http.StatusBadRequest, e.StatusCode)
		require.Equal(t, cloudapi.CodeBadArgument, e.Code)
		fields := e.FieldErrors()
		require.Equal(t, cloudapi.CodeNullValue, fields["metadata.name"][0].Code)
		require.Equal(t, cloudapi.CodeMalformedValue, fields["spec.deepStorage.path"][0].Code)
	})

	t.Run("dry run accepts a valid cluster and creates nothing", func(t *testing.T) {
		before, err := target.client.ListClusters(ctx)
		require.NoError(t, err)
		validated, err := target.client.CreateCluster(ctx, exampleCluster(t, "dry-run-only"), cloudapi.DryRun())
		require.NoError(t, err)
		require.Equal(t, "dry-run-only", validated.Metadata.Name)
		require.Empty(t, validated.Metadata.UID, "a dry run assigns no uid")
		after, err := target.client.ListClusters(ctx)
		require.NoError(t, err)
		require.Len(t, after, len(before))
	})

	t.Run("tutorial", func(t *testing.T) {
		if !target.destructive {
			t.Skip("contract: the tutorial creates and deletes a cluster; set PORTAL_CONTRACT_DESTRUCTIVE=1 to run it against a tenant")
		}
		replayTutorial(t, target)
	})
}

// replayTutorial follows Imply's Manager API tutorial (BEHAVIOUR.md §10):
// create clusters-example, scale tier 1 up, read the resource version, read
// the previous version, stop, delete.
func replayTutorial(t *testing.T, target *contractTarget) {
	ctx := context.Background()
	client := target.client
	settle := func(id string) *cloudapi.Cluster { return waitSteady(t, client, id, target.wait, target.poll) }

	// 1. Create the cluster.
	body := target.newCluster(t)
	created, err := client.CreateCluster(ctx, body)
	require.NoError(t, err)
	id := created.Metadata.UID
	require.NotEmpty(t, id)
	t.Cleanup(func() { _ = client.DeleteCluster(context.Background(), id) }) // if a step fails
	require.Equal(t, body.Metadata.Name, created.Metadata.Name)
	require.Equal(t, cloudapi.StatePending, created.Status.State)
	require.EqualValues(t, 0, created.Status.ResourceVersion)

	running := settle(id)
	require.Equal(t, cloudapi.StateStarted, running.Status.State)
	if target.simulated {
		require.Len(t, running.Status.Servers, 5, "1 master, 3 query, 1 data")
	}

	// 2. Scale tier 1 up.
	release := target.hold()
	scaled, err := client.UpdateCluster(ctx, id, json.RawMessage(`{"spec":{"data":{"tier1":{"replicas":2}}}}`))
	require.NoError(t, err)
	require.Equal(t, cloudapi.StateUpdating, scaled.Status.State)
	require.EqualValues(t, 1, scaled.Status.ResourceVersion)
	require.EqualValues(t, 2, *scaled.Spec.Data.Tier1.Replicas)
	require.NotNil(t, scaled.Status.UpdateState)

	// Stopping now would be a second update at once: 409 (documented).
	_, err = client.UpdateCluster(ctx, id, json.RawMessage(`{"spec":{"desiredState":"STOPPED"}}`))
	require.True(t, cloudapi.IsBusy(err), "got %v", err)
	e := apiError(t, err)
	require.Equal(t, cloudapi.CodeStateConflict, e.Code)
	require.Equal(t, fmt.Sprintf("Cluster [%s] cannot transition from [UPDATING] to [STOPPED]", id), e.Message)
	release()

	running = settle(id)
	require.Equal(t, cloudapi.StateStarted, running.Status.State)
	if target.simulated {
		require.Len(t, running.Status.Servers, 6)
	}

	// 3. Read the resource version.
	current, err := client.GetCluster(ctx, id)
	require.NoError(t, err)
	require.EqualValues(t, 1, current.Status.ResourceVersion)

	// 4. Read the previous configuration.
	previous, err := client.GetClusterVersion(ctx, id, current.Status.ResourceVersion-1)
	require.NoError(t, err)
	require.Equal(t, id, previous.Metadata.UID)
	require.EqualValues(t, 1, *previous.Spec.Data.Tier1.Replicas)
	_, err = client.GetClusterVersion(ctx, id, current.Status.ResourceVersion+1)
	require.True(t, cloudapi.IsNotFound(err), "got %v", err)
	require.Equal(t, fmt.Sprintf("Cluster [%s] resource version [%d] was not found", id, current.Status.ResourceVersion+1), apiError(t, err).Message)

	// 5. Stop the cluster.
	stopping, err := client.UpdateCluster(ctx, id, json.RawMessage(`{"spec":{"desiredState":"STOPPED"}}`))
	require.NoError(t, err)
	require.Equal(t, cloudapi.DesiredStopped, stopping.Spec.DesiredState)
	require.EqualValues(t, 2, stopping.Status.ResourceVersion)
	stopped := settle(id)
	require.Equal(t, cloudapi.StateStopped, stopped.Status.State)
	require.Empty(t, stopped.Status.Servers)

	// 6. Delete it.
	require.NoError(t, client.DeleteCluster(ctx, id))
	_, err = client.GetCluster(ctx, id)
	require.True(t, cloudapi.IsNotFound(err), "got %v", err)
}

// apiError returns err as an *APIError, failing the test otherwise.
func apiError(t *testing.T, err error) *cloudapi.APIError {
	t.Helper()
	e, ok := errors.AsType[*cloudapi.APIError](err)
	if !ok {
		t.Fatalf("want *cloudapi.APIError, got %T: %v", err, err)
	}
	return e
}
