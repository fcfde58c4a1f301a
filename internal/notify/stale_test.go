package notify_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/notify"
)

// A request made stale by the inventory sync (its cluster changed outside
// Clusterdesk) tells its requester that it needs a rebase, from the sync's
// transaction.
func TestStaleBySyncNotifies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, options{})
	r := f.restart(t, f.alice)
	filed := len(f.settled(t, r.ID, 3))

	_, err := f.client.UpdateCluster(ctx, f.staging, []byte(`{"spec":{"awsKeyPair":"ops"}}`), cloudapi.Force())
	require.NoError(t, err)
	syncer := inventory.NewSyncer(f.pool, f.client, inventory.Config{OnChange: approvals.ClusterChanged})
	_, err = syncer.Sync(ctx)
	require.NoError(t, err)

	list := f.settled(t, r.ID, filed+1)
	stale := list[filed]
	require.Equal(t, notify.KindStale, stale.Event)
	require.Equal(t, "alice@example.com", stale.Target)
	require.Equal(t, notify.StateSent, stale.State)
	subjects := f.smtp.Subjects("alice@example.com")
	require.Len(t, subjects, 1)
	require.Contains(t, subjects[0], "analytics-staging")
}
