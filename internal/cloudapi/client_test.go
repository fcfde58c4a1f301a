package cloudapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

// Every operation and every documented error, through the client, against
// the simulator over HTTP, with the traffic checked against openapi.yaml.

var ctx = context.Background()

const unknownID = "6f0b1f0e-2c1d-4e7a-8b55-3f1d2a9c0e42"

func TestListClusters(t *testing.T) {
	t.Parallel()
	f := setup(t)

	clusters, err := f.client.ListClusters(ctx, cloudapi.Pretty())
	require.NoError(t, err)
	require.Empty(t, clusters)

	a := f.create(t, exampleCluster(t, "a"))
	b := f.create(t, exampleCluster(t, "b"))
	clusters, err = f.client.ListClusters(ctx)
	require.NoError(t, err)
	require.Len(t, clusters, 2)
	require.Equal(t, []string{a.Metadata.UID, b.Metadata.UID}, []string{clusters[0].Metadata.UID, clusters[1].Metadata.UID})
}

func TestCreateCluster(t *testing.T) {
	t.Parallel()
	f := setup(t)

	t.Run("dry run validates and stores nothing", func(t *testing.T) {
		validated, err := f.client.CreateCluster(ctx, exampleCluster(t, "dry"), cloudapi.DryRun(), cloudapi.Pretty())
		require.NoError(t, err)
		require.Equal(t, "dry", validated.Metadata.Name)
		require.Empty(t, validated.Metadata.UID)
		_, mutations := f.countCalls(cloudapi.OpCreateCluster)
		require.Zero(t, mutations)
	})

	t.Run("created cluster is provisioned", func(t *testing.T) {
		created, err := f.client.CreateCluster(ctx, exampleCluster(t, "new"))
		require.NoError(t, err)
		require.Equal(t, cloudapi.StatePending, created.Status.State)
		require.Equal(t, cloudapi.HealthOK, created.Status.Status)
		require.Nil(t, created.Status.UpdateState)
		require.NotEmpty(t, created.Status.Events)

		running := waitSteady(t, f.client, created.Metadata.UID, defaultWait, pollEvery)
		require.Equal(t, cloudapi.StateStarted, running.Status.State)
		nodes := map[cloudapi.NodeType]int{}
		for _, s := range running.Status.Servers {
			nodes[s.NodeType]++
			require.True(t, strings.HasPrefix(s.InstanceID, "i-"), s.InstanceID)
			require.NotEmpty(t, s.PrivateIP)
			require.Equal(t, s.NodeType == cloudapi.NodeQuery, s.PublicIP != "", "only query servers have a public address")
		}
		require.Equal(t, map[cloudapi.NodeType]int{cloudapi.NodeMaster: 1, cloudapi.NodeQuery: 3, cloudapi.NodeData: 1}, nodes)
	})

	t.Run("a stopped cluster is created without servers", func(t *testing.T) {
		c := exampleCluster(t, "cold")
		c.Spec.DesiredState = cloudapi.DesiredStopped
		stopped := f.create(t, c)
		require.Equal(t, cloudapi.StateStopped, stopped.Status.State)
		require.Empty(t, stopped.Status.Servers)
	})

	t.Run("invalid fields come back as field errors", func(t *testing.T) {
		c := exampleCluster(t, "bad")
		c.Spec.Query.Replicas = ptr[int32](0)
		c.Spec.Pivot = &cloudapi.PivotAccess{AccessMode: cloudapi.AccessOIDC}
		_, err := f.client.CreateCluster(sendingInvalid(ctx), c)
		e := apiError(t, err)
		require.Equal(t, http.StatusBadRequest, e.StatusCode)
		require.False(t, cloudapi.IsRetryable(err))
		fields := e.FieldErrors()
		require.Contains(t, fields, "spec.query.replicas")
		require.Equal(t, cloudapi.CodeNullValue, fields["spec.pivot.roleAuthority"][0].Code)
		require.Equal(t, cloudapi.CodeNullValue, fields["spec.pivot.options"][0].Code)
		calls, _ := f.countCalls(cloudapi.OpCreateCluster)
		require.Equal(t, 4, calls, "a 400 is not retried")
	})

	t.Run("options the operation does not take are refused locally", func(t *testing.T) {
		_, err := f.client.CreateCluster(ctx, exampleCluster(t, "x"), cloudapi.Force())
		require.ErrorContains(t, err, "createCluster does not take the force option")
	})
}

func TestGetCluster(t *testing.T) {
	t.Parallel()
	f := setup(t)
	created := f.create(t, exampleCluster(t, "get-me"))

	got, err := f.client.GetCluster(ctx, created.Metadata.UID, cloudapi.Pretty())
	require.NoError(t, err)
	require.Equal(t, created.Metadata, got.Metadata)
	require.Equal(t, created.Spec, got.Spec)

	_, err = f.client.GetCluster(ctx, unknownID)
	require.True(t, errors.Is(err, cloudapi.ErrNotFound), "got %v", err)
	require.Equal(t, fmt.Sprintf("Cluster [%s] was not found", unknownID), apiError(t, err).Message)

	_, err = f.client.GetCluster(ctx, "")
	require.ErrorContains(t, err, "empty cluster id")
}

func TestUpdateCluster(t *testing.T) {
	t.Parallel()
	f := setup(t)

	t.Run("a busy cluster answers 409 StateConflict", func(t *testing.T) {
		f.sim.PauseUpdates()
		created, err := f.client.CreateCluster(ctx, exampleCluster(t, "busy"))
		require.NoError(t, err)
		id := created.Metadata.UID
		_, err = f.client.UpdateCluster(ctx, id, json.RawMessage(`{"spec":{"desiredState":"STOPPED"}}`), cloudapi.DryRun())
		require.True(t, cloudapi.IsBusy(err), "a dry run on a busy cluster is refused too: %v", err)
		require.Equal(t, fmt.Sprintf("Cluster [%s] cannot transition from [PENDING] to [STOPPED]", id), apiError(t, err).Message)
		require.False(t, cloudapi.IsRetryable(err))
		calls, _ := f.countCalls(cloudapi.OpUpdateCluster)
		require.Equal(t, 1, calls, "409 is never retried by the client")
		f.sim.ResumeUpdates()
		waitSteady(t, f.client, id, defaultWait, pollEvery)
	})

	t.Run("dry run and no-op change nothing", func(t *testing.T) {
		c := f.create(t, exampleCluster(t, "calm"))
		id := c.Metadata.UID
		preview, err := f.client.UpdateCluster(ctx, id, json.RawMessage(`{"spec":{"data":{"tier1":{"replicas":4}}}}`), cloudapi.DryRun())
		require.NoError(t, err)
		require.EqualValues(t, 4, *preview.Spec.Data.Tier1.Replicas)
		require.EqualValues(t, 0, preview.Status.ResourceVersion)

		same, err := f.client.UpdateCluster(ctx, id, json.RawMessage(`{"spec":{"version":"2021.06"}}`))
		require.NoError(t, err)
		require.Equal(t, cloudapi.StateStarted, same.Status.State)

		now, err := f.client.GetCluster(ctx, id)
		require.NoError(t, err)
		require.EqualValues(t, 0, now.Status.ResourceVersion)
		require.EqualValues(t, 1, *now.Spec.Data.Tier1.Replicas)
	})

	t.Run("null deletes, arrays are replaced whole", func(t *testing.T) {
		c := f.create(t, exampleCluster(t, "merge"))
		updated, err := f.client.UpdateCluster(ctx, c.Metadata.UID, json.RawMessage(
			`{"spec":{"metadataStore":{"backupRetention":null},"awsTags":[{"name":"team","value":"data"}]}}`))
		require.NoError(t, err)
		require.Nil(t, updated.Spec.MetadataStore.BackupRetention)
		require.EqualValues(t, 27, *updated.Spec.MetadataStore.DiskSize)
		require.Equal(t, []cloudapi.NameValue{cloudapi.StringValue("team", "data")}, updated.Spec.AWSTags)
	})

	t.Run("a patch built from typed specs", func(t *testing.T) {
		c := f.create(t, exampleCluster(t, "typed"))
		want := c.Spec
		want.Query = &cloudapi.QueryConfig{Replicas: ptr[int32](4), InstanceType: "t2.small", BrokerRuntimeProperties: []cloudapi.NameValue{}, RouterRuntimeProperties: []cloudapi.NameValue{}}
		patch, err := cloudapi.SpecPatch(c.Spec, want)
		require.NoError(t, err)
		require.JSONEq(t, `{"spec":{"query":{"replicas":4}}}`, string(patch))
		updated, err := f.client.UpdateCluster(ctx, c.Metadata.UID, patch)
		require.NoError(t, err)
		require.Equal(t, want, updated.Spec)
	})

	t.Run("restarting servers without high availability needs force", func(t *testing.T) {
		c := f.create(t, exampleCluster(t, "single-master"))
		patch := json.RawMessage(`{"spec":{"master":{"instanceType":"m5.large"}}}`)
		_, err := f.client.UpdateCluster(ctx, c.Metadata.UID, patch)
		require.Equal(t, "spec.master", apiError(t, err).Details[0].Target)

		hard, err := f.client.UpdateCluster(ctx, c.Metadata.UID, patch, cloudapi.Force())
		require.NoError(t, err)
		require.Equal(t, &cloudapi.UpdateState{Cancellable: false, TotalStages: 1, CurrentStage: 1}, hard.Status.UpdateState)
		after := waitSteady(t, f.client, c.Metadata.UID, defaultWait, pollEvery)
		require.Equal(t, "m5.large", after.Status.Servers[0].InstanceType)
		require.NotEqual(t, c.Status.Servers[0].InstanceID, after.Status.Servers[0].InstanceID)
	})

	t.Run("a rolling update takes one stage per server", func(t *testing.T) {
		c := f.create(t, haCluster(t, "ha"))
		rolling, err := f.client.UpdateCluster(ctx, c.Metadata.UID, json.RawMessage(`{"spec":{"query":{"instanceType":"c5.xlarge"}}}`))
		require.NoError(t, err)
		require.Equal(t, &cloudapi.UpdateState{Cancellable: true, TotalStages: 3, CurrentStage: 1}, rolling.Status.UpdateState)
		after := waitSteady(t, f.client, c.Metadata.UID, defaultWait, pollEvery)
		for _, s := range after.Status.Servers {
			if s.NodeType == cloudapi.NodeQuery {
				require.Equal(t, "c5.xlarge", s.InstanceType)
			}
		}
	})

	t.Run("unknown cluster and invalid patch", func(t *testing.T) {
		_, err := f.client.UpdateCluster(ctx, unknownID, json.RawMessage(`{}`))
		require.True(t, cloudapi.IsNotFound(err), "got %v", err)
		_, err = f.client.UpdateCluster(ctx, unknownID, json.RawMessage(`{`))
		require.ErrorContains(t, err, "not valid JSON")
	})
}

func TestReplaceCluster(t *testing.T) {
	t.Parallel()
	f := setup(t)

	t.Run("members the client does not know survive read, replace and history", func(t *testing.T) {
		body := exampleCluster(t, "future")
		body.Spec.Extra = map[string]json.RawMessage{"autoscaling": json.RawMessage(`{"enabled":true,"max":9}`)}
		body.Spec.Master.Extra = map[string]json.RawMessage{"diskSize": json.RawMessage(`64`)}
		c := f.create(t, body)
		require.JSONEq(t, `{"enabled":true,"max":9}`, string(c.Spec.Extra["autoscaling"]))

		c.Spec.Query.Replicas = ptr[int32](4)
		replaced, err := f.client.ReplaceCluster(ctx, c.Metadata.UID, c)
		require.NoError(t, err)
		require.EqualValues(t, 1, replaced.Status.ResourceVersion)
		require.JSONEq(t, `{"enabled":true,"max":9}`, string(replaced.Spec.Extra["autoscaling"]))
		require.JSONEq(t, `64`, string(replaced.Spec.Master.Extra["diskSize"]))

		old, err := f.client.GetClusterVersion(ctx, c.Metadata.UID, 0)
		require.NoError(t, err)
		require.Equal(t, body.Spec.Extra, old.Spec.Extra)
	})

	t.Run("rollback writes an old version back", func(t *testing.T) {
		c := f.create(t, exampleCluster(t, "rollback"))
		id := c.Metadata.UID
		_, err := f.client.UpdateCluster(ctx, id, json.RawMessage(`{"spec":{"query":{"replicas":5}}}`))
		require.NoError(t, err)
		waitSteady(t, f.client, id, defaultWait, pollEvery)

		old, err := f.client.GetClusterVersion(ctx, id, 0)
		require.NoError(t, err)
		back, err := f.client.ReplaceCluster(ctx, id, old)
		require.NoError(t, err)
		require.EqualValues(t, 2, back.Status.ResourceVersion)
		require.Equal(t, c.Spec, back.Spec)
	})

	t.Run("a missing access mode is taken from the current cluster", func(t *testing.T) {
		c := f.create(t, exampleCluster(t, "keep-pivot"))
		c.Spec.Pivot = nil
		c.Spec.AWSTags = []cloudapi.NameValue{cloudapi.StringValue("team", "search")}
		replaced, err := f.client.ReplaceCluster(ctx, c.Metadata.UID, c)
		require.NoError(t, err)
		require.Equal(t, cloudapi.AccessProxied, replaced.Spec.Pivot.AccessMode)
		require.Nil(t, c.Spec.Pivot, "the caller's cluster is not modified")
	})

	t.Run("refused locally when nobody knows the access mode", func(t *testing.T) {
		body := exampleCluster(t, "no-pivot")
		body.Spec.Pivot = nil
		c := f.create(t, body)
		before, _ := f.countCalls(cloudapi.OpReplaceCluster)
		_, err := f.client.ReplaceCluster(ctx, c.Metadata.UID, c)
		require.ErrorIs(t, err, cloudapi.ErrAccessModeRequired)
		after, _ := f.countCalls(cloudapi.OpReplaceCluster)
		require.Equal(t, before, after, "no PUT known to give 500 is sent")
	})

	t.Run("busy, unknown and invalid", func(t *testing.T) {
		f.sim.PauseUpdates()
		created, err := f.client.CreateCluster(ctx, exampleCluster(t, "put-busy"))
		require.NoError(t, err)
		_, err = f.client.ReplaceCluster(ctx, created.Metadata.UID, created, cloudapi.Force())
		require.True(t, cloudapi.IsBusy(err), "got %v", err)
		f.sim.ResumeUpdates()

		_, err = f.client.ReplaceCluster(ctx, unknownID, exampleCluster(t, "ghost"))
		require.True(t, cloudapi.IsNotFound(err), "got %v", err)

		c := waitSteady(t, f.client, created.Metadata.UID, defaultWait, pollEvery)
		c.Spec.DeepStorage = nil
		_, err = f.client.ReplaceCluster(sendingInvalid(ctx), c.Metadata.UID, c, cloudapi.DryRun())
		require.Equal(t, cloudapi.CodeNullValue, apiError(t, err).FieldErrors()["spec.deepStorage"][0].Code)
	})
}

func TestDeleteCluster(t *testing.T) {
	t.Parallel()
	f := setup(t)

	f.sim.PauseUpdates()
	created, err := f.client.CreateCluster(ctx, exampleCluster(t, "doomed"))
	require.NoError(t, err)
	id := created.Metadata.UID
	err = f.client.DeleteCluster(ctx, id)
	require.True(t, cloudapi.IsBusy(err), "deleting a cluster being provisioned: %v", err)
	require.Contains(t, apiError(t, err).Message, "to [DELETED]")
	f.sim.ResumeUpdates()

	waitSteady(t, f.client, id, defaultWait, pollEvery)
	require.NoError(t, f.client.DeleteCluster(ctx, id))
	_, err = f.client.GetCluster(ctx, id)
	require.True(t, cloudapi.IsNotFound(err))
	require.True(t, cloudapi.IsNotFound(f.client.DeleteCluster(ctx, id)))
}

func TestGetClusterVersion(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := f.create(t, exampleCluster(t, "versions"))
	id := c.Metadata.UID

	for replicas := 2; replicas <= 3; replicas++ {
		_, err := f.client.UpdateCluster(ctx, id, json.RawMessage(fmt.Sprintf(`{"spec":{"data":{"tier1":{"replicas":%d}}}}`, replicas)))
		require.NoError(t, err)
		waitSteady(t, f.client, id, defaultWait, pollEvery)
	}
	for version := range int64(3) {
		old, err := f.client.GetClusterVersion(ctx, id, version)
		require.NoError(t, err)
		require.EqualValues(t, version+1, *old.Spec.Data.Tier1.Replicas)
		require.Equal(t, version, old.Status.ResourceVersion)
	}
	_, err := f.client.GetClusterVersion(ctx, id, 3)
	require.True(t, cloudapi.IsNotFound(err))
	_, err = f.client.GetClusterVersion(ctx, id, -1)
	require.ErrorContains(t, err, "negative")
}

func TestRestartServer(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := f.create(t, exampleCluster(t, "restart"))
	id := c.Metadata.UID
	victim := c.Status.Servers[1]

	f.sim.PauseUpdates()
	require.NoError(t, f.client.RestartServer(ctx, id, victim.InstanceID))
	busy, err := f.client.GetCluster(ctx, id)
	require.NoError(t, err)
	require.Equal(t, cloudapi.StateUpdating, busy.Status.State)
	require.Equal(t, &cloudapi.UpdateState{TotalStages: 1, CurrentStage: 1}, busy.Status.UpdateState)
	require.True(t, cloudapi.IsBusy(f.client.RestartServer(ctx, id, c.Status.Servers[0].InstanceID)))
	f.sim.ResumeUpdates()

	after := waitSteady(t, f.client, id, defaultWait, pollEvery)
	require.Len(t, after.Status.Servers, len(c.Status.Servers))
	require.NotEqual(t, victim.InstanceID, after.Status.Servers[1].InstanceID, "the slot has a new instance")
	require.Equal(t, victim.NodeType, after.Status.Servers[1].NodeType)
	require.Equal(t, c.Status.ResourceVersion, after.Status.ResourceVersion, "a restart is no configuration change")

	err = f.client.RestartServer(ctx, id, victim.InstanceID)
	require.True(t, cloudapi.IsNotFound(err), "the old instance is gone: %v", err)
	calls, _ := f.countCalls(cloudapi.OpRestartServer)
	require.Equal(t, 3, calls)
}

func TestAuthorizationErrors(t *testing.T) {
	t.Parallel()
	f := setup(t, func(s *sim.Config, _ *cloudapi.Config) {
		s.Clients = []sim.OAuthClient{{ID: "viewer", Secret: "viewer-secret"}}
	})

	viewer := f.newClient(t, func(c *cloudapi.Config) { c.ClientID, c.ClientSecret = "viewer", "viewer-secret" })
	_, err := viewer.ListClusters(ctx)
	e := apiError(t, err)
	require.Equal(t, http.StatusForbidden, e.StatusCode)
	require.Equal(t, cloudapi.CodeUnauthorized, e.Code)
	require.Equal(t, "Provided user does not have permissions to complete this request", e.Message)

	bogus := f.staticClient(t, "forged")
	_, err = bogus.ListClusters(ctx)
	require.Equal(t, http.StatusUnauthorized, apiError(t, err).StatusCode)
}
