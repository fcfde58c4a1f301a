package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/notify"
)

// An emergency change tells the approver role's people (no emergency
// groups are set), not the one who made it, with the justification.
func TestEmergencyNotifies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, options{})
	svc := approvals.New(f.pool, approvals.Config{
		Emergency: approvals.EmergencyConfig{Groups: []string{"approvers"}, ReviewWithin: time.Hour}})
	c, err := inventory.ClusterGet(ctx, f.pool, f.staging)
	require.NoError(t, err)
	r, err := svc.CreateEmergency(ctx, f.bob, approvals.NewRequest{Kind: approvals.KindRestartServer,
		ClusterUID: f.staging, Reason: "broker down", InstanceID: c.Status.Servers[0].InstanceID}, "broker out of memory")
	require.NoError(t, err)

	var targets []string
	for _, d := range f.settled(t, r.ID, 2) {
		if d.Event == notify.KindEmergency {
			targets = append(targets, d.Target)
			require.Contains(t, d.Message.Text, "EMERGENCY")
			require.Contains(t, d.Message.Text, "broker out of memory")
		}
	}
	require.ElementsMatch(t, []string{"carol@example.com", "dave@example.com"}, targets, "the approvers, not bob who made it")
}
