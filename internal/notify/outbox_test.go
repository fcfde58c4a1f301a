package notify_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/notify"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

// Relays running side by side, and more events than one batch holds,
// queue every told event once: the cursor moves with the jobs. An
// approval that did not complete the policy, an emergency's filing and
// events of other subjects are not told.
func TestRelayQueuesEachEventOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	ins, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)

	told := map[string]int{}
	appendEvent := func(tx pgx.Tx, id int, action audit.Action, data map[string]any) {
		_, err := audit.Append(ctx, tx, audit.Event{Actor: audit.User("u-carol", "carol"), Action: action,
			Subject: audit.Subject{Type: audit.SubjectRequest, ID: strconv.Itoa(id)}, Data: data})
		require.NoError(t, err)
	}
	const requests = notify.RelayBatch + 100
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for id := 1; id <= requests; id++ {
			appendEvent(tx, id, audit.RequestCreated, map[string]any{"revision": 1})
			told[string(notify.KindWaiting)]++
			switch id % 4 {
			case 0:
				appendEvent(tx, id, audit.RequestApproved, map[string]any{"revision": 1, "state": "pending"})
			case 1:
				appendEvent(tx, id, audit.RequestApproved, map[string]any{"revision": 1, "state": "approved"})
				told[string(notify.KindApproved)]++
			case 2:
				appendEvent(tx, id, audit.RequestRejected, map[string]any{"revision": 1, "comment": "no"})
				told[string(notify.KindRejected)]++
			}
		}
		appendEvent(tx, requests+1, audit.RequestCreated, map[string]any{"revision": 1, "emergency": true})
		_, err := audit.Append(ctx, tx, audit.Event{Actor: audit.System("test"), Action: audit.AuditVerified,
			Subject: audit.Subject{Type: audit.SubjectAuditLog, ID: "chain"}, Data: map[string]any{}})
		return err
	}))
	for {
		n, err := audit.Chain(ctx, pool)
		require.NoError(t, err)
		if n == 0 {
			break
		}
	}

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				n, err := notify.Relay(ctx, pool, ins)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	for {
		n, err := notify.Relay(ctx, pool, ins)
		require.NoError(t, err)
		if n == 0 {
			break
		}
	}

	got := map[string]int{}
	rows, err := pool.Query(ctx, `
		SELECT args->>'event', count(*), count(DISTINCT args->>'audit_seq')
		FROM river_job WHERE kind = 'notify_event' GROUP BY 1`)
	require.NoError(t, err)
	for rows.Next() {
		var kind string
		var n, distinct int
		require.NoError(t, rows.Scan(&kind, &n, &distinct))
		require.Equal(t, n, distinct, "an event of kind %s was queued twice", kind)
		got[kind] = n
	}
	require.NoError(t, rows.Err())
	require.Equal(t, told, got)

	var comment string
	require.NoError(t, pool.QueryRow(ctx, `
		SELECT args->>'comment' FROM river_job WHERE kind = 'notify_event' AND args->>'event' = 'rejected' LIMIT 1`).Scan(&comment))
	require.Equal(t, "no", comment)
}
