package worker

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

func TestWorkerSyncsTheInventory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s, err := sim.New(sim.Config{SeedDemo: true, StageDuration: 5 * time.Millisecond})
	require.NoError(t, err)
	server := httptest.NewServer(s)
	t.Cleanup(func() {
		server.Close()
		require.NoError(t, s.Close())
	})
	client, err := cloudapi.New(cloudapi.Config{BaseURL: s.APIURL(server.URL), TokenURL: s.TokenURL(server.URL),
		ClientID: "clusterdesk", ClientSecret: "clusterdesk-sim-secret"})
	require.NoError(t, err)
	syncer := inventory.NewSyncer(b.pool, client, inventory.Config{OnChange: approvals.ClusterChanged})

	w, err := New(b.pool, b.logger, Options{
		AuditVerifyInterval:   time.Hour,
		Inventory:             syncer,
		InventorySyncInterval: 200 * time.Millisecond,
		FetchCooldown:         10 * time.Millisecond,
		FetchPollInterval:     50 * time.Millisecond,
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, w.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, w.Stop(stopCtx))
	})

	var prod inventory.Cluster
	require.Eventually(t, func() bool {
		list, err := inventory.ClusterByName(ctx, b.pool, "analytics-prod")
		require.NoError(t, err)
		if len(list) == 1 {
			prod = list[0]
		}
		return len(list) == 1
	}, 30*time.Second, 20*time.Millisecond, "the sync never ran")

	// A change made through the API shows up with the next periodic sync.
	_, err = client.UpdateCluster(ctx, prod.UID, []byte(`{"spec":{"query":{"replicas":3}}}`))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		c, err := inventory.ClusterGet(ctx, b.pool, prod.UID)
		require.NoError(t, err)
		return c.ResourceVersion == prod.ResourceVersion+1
	}, 30*time.Second, 20*time.Millisecond)

	// An on-demand refresh of a cluster the API no longer has records it
	// as deleted and succeeds.
	require.Eventually(t, func() bool {
		c, err := client.GetCluster(ctx, prod.UID)
		require.NoError(t, err)
		return !c.Status.State.Busy()
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, client.DeleteCluster(ctx, prod.UID))
	refresh := &inventoryRefreshWorker{syncer: syncer}
	require.NoError(t, refresh.Work(ctx, &river.Job[InventoryRefreshArgs]{Args: InventoryRefreshArgs{ClusterUID: prod.UID}}))
	c, err := inventory.ClusterGet(ctx, b.pool, prod.UID)
	require.NoError(t, err)
	require.True(t, c.Deleted())
}
