package worker

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// While a change is applied its progress and the cluster's events are
// recorded and announced (NOTIFY), once each.
func TestTrackRecordsAndAnnouncesProgress(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	listener := listen(t, f.pool)

	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)
	f.sim.PauseUpdates()
	f.start(t)

	var progress execution.ProgressNotification
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for progress.Type == "" {
		n, err := listener.next(waitCtx)
		require.NoError(t, err, "no progress was announced")
		if n.Type == "progress" {
			require.NoError(t, json.Unmarshal([]byte(n.Payload), &progress))
		}
	}
	require.Equal(t, r.ID, progress.RequestID)
	require.Equal(t, string(cloudapi.StateUpdating), progress.ClusterState)
	require.Positive(t, progress.TotalStages)
	require.Positive(t, progress.NewEvents)

	sub, err := execution.SubmissionGet(ctx, f.pool, r.ID, r.Revision.Number)
	require.NoError(t, err)
	require.Equal(t, string(cloudapi.StateUpdating), sub.ClusterState)
	require.Equal(t, progress.TotalStages, sub.TotalStages)
	got, err := approvals.Get(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Equal(t, approvals.StateApplying, got.State, "accepted is not done")

	// Polling the held update copies no event twice.
	time.Sleep(100 * time.Millisecond)
	var copied int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM cluster_events WHERE request_id = $1`, r.ID).Scan(&copied))
	require.Equal(t, progress.NewEvents, copied)

	f.sim.ResumeUpdates()
	require.Equal(t, approvals.StateSucceeded, f.wait(t, r.ID).State)
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM cluster_events WHERE request_id = $1`, r.ID).Scan(&copied))
	require.Greater(t, copied, progress.NewEvents, "the events of the end of the update arrived")
}

// A change whose cluster does not converge in time fails, with the
// cluster's last events as the reason.
func TestTrackFailsAChangeThatNeverConverges(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	f.rebuild(t, func(o *execution.Options) { o.TrackTimeout = 300 * time.Millisecond })
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)
	f.sim.PauseUpdates()
	f.start(t)

	require.Equal(t, approvals.StateFailed, f.wait(t, r.ID).State)
	sub, err := execution.SubmissionGet(context.Background(), f.pool, r.ID, r.Revision.Number)
	require.NoError(t, err)
	require.Contains(t, sub.Reason, "had not converged")
	require.Contains(t, sub.Reason, "Configuration version")
	require.Equal(t, 1, f.mutations(cloudapi.OpUpdateCluster, f.staging))
	actions := f.actions(t, r.ID)
	require.Equal(t, audit.SubmissionFailed, actions[len(actions)-1])
	f.verified(t)
}

// listener receives the notifications of inventory.NotifyChannel.
type listener struct {
	conn *pgxpool.Conn
}

type notification struct {
	Type    string `json:"type"`
	Payload string `json:"-"`
}

func listen(t *testing.T, pool *pgxpool.Pool) *listener {
	t.Helper()
	conn, err := pool.Acquire(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() {
		// A listening connection is not handed back to others.
		_ = conn.Conn().Close(context.Background())
		conn.Release()
	})
	_, err = conn.Exec(context.Background(), "LISTEN "+inventory.NotifyChannel)
	require.NoError(t, err)
	return &listener{conn: conn}
}

// next waits for the next notification (a timeout of ctx leaves the
// connection unusable: pgx closes it).
func (l *listener) next(ctx context.Context) (notification, error) {
	n, err := l.conn.Conn().WaitForNotification(ctx)
	if err != nil {
		return notification{}, err
	}
	var out notification
	if err := json.Unmarshal([]byte(n.Payload), &out); err != nil {
		return notification{}, err
	}
	out.Payload = n.Payload
	return out, nil
}
