package worker

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/governance"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

func (f *subFixture) submitScheduledAt(t *testing.T, id int64) time.Time {
	t.Helper()
	var at time.Time
	require.NoError(t, f.pool.QueryRow(context.Background(),
		`SELECT scheduled_at FROM river_job WHERE kind = 'submit' AND (args->>'request_id')::bigint = $1`, id).Scan(&at))
	return at
}

// TestApprovedChangeWaitsForItsWindow: a change approved outside its
// change window is queued with its submit job scheduled at the window's
// opening (River's ScheduledAt, no polling) and nothing is sent; a change
// approved during a freeze is sent by the worker when the freeze ends.
func TestApprovedChangeWaitsForItsWindow(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	admin := governance.NewAdmin(f.pool)
	f.start(t)

	// A window open only two days from now, 09:00–10:00 UTC, for staging.
	now := time.Now().UTC()
	day := now.AddDate(0, 0, 2)
	weekday := int(day.Weekday())
	if weekday == 0 {
		weekday = 7
	}
	_, err := admin.WindowAdd(ctx, f.bob, governance.Window{Name: "staging", Environments: []string{"staging"},
		Weekdays: []int{weekday}, Start: 9 * 60, End: 10 * 60, TimeZone: "UTC"})
	require.NoError(t, err)
	r := f.scaleUp(t, f.staging)
	f.approve(t, r, f.bob)
	opening := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, time.UTC)
	require.True(t, f.submitScheduledAt(t, r.ID).Equal(opening), "scheduled at %v, want %v", f.submitScheduledAt(t, r.ID), opening)
	hold, err := governance.HoldFor(ctx, f.pool, r, time.Now())
	require.NoError(t, err)
	require.True(t, hold.Until.Equal(opening))
	require.Contains(t, hold.Why, "the change window staging")

	// A freeze of the development clusters that ends in a moment.
	ends := time.Now().Add(1500 * time.Millisecond).Truncate(time.Microsecond)
	_, err = admin.FreezeAdd(ctx, f.bob, governance.Freeze{Reason: "release day", Starts: time.Now().Add(-time.Minute),
		Ends: ends, Environments: []string{"development"}})
	require.NoError(t, err)
	held := f.file(t, approvals.KindStart, f.dev)
	f.approve(t, held, f.bob)
	require.True(t, f.submitScheduledAt(t, held.ID).Equal(ends))
	done := f.wait(t, held.ID)
	require.Equal(t, approvals.StateSucceeded, done.State)
	started := f.actionTime(t, held.ID, audit.SubmissionStarted)
	require.False(t, started.Before(ends), "sent at %v, before the freeze ended at %v", started, ends)

	// The staging change is still waiting, untouched.
	got, err := approvals.Get(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Equal(t, approvals.StateApproved, got.State)
	require.Zero(t, f.mutations(cloudapi.OpUpdateCluster, f.staging))
}

// actionTime returns when the first event of action about request id
// happened.
func (f *subFixture) actionTime(t *testing.T, id int64, action audit.Action) time.Time {
	t.Helper()
	page, err := audit.List(context.Background(), f.pool, audit.Filter{Actions: []audit.Action{action}}, audit.PageRequest{Limit: 100})
	require.NoError(t, err)
	entries := slices.Clone(page.Entries)
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Subject.ID == strconv.FormatInt(id, 10) {
			return entries[i].At
		}
	}
	t.Fatalf("no %s for request %d", action, id)
	return time.Time{}
}

// TestEmergencyGoesAheadOfWaitingChanges: break-glass is sent at once. A
// change approved earlier on the same cluster that waits for its window
// keeps its place behind the emergency, which neither waits for it nor
// for the window.
func TestEmergencyGoesAheadOfWaitingChanges(t *testing.T) {
	t.Parallel()
	f := setupSubmission(t)
	ctx := context.Background()
	f.start(t)
	day := time.Now().UTC().AddDate(0, 0, 2)
	weekday := int(day.Weekday())
	if weekday == 0 {
		weekday = 7
	}
	_, err := governance.NewAdmin(f.pool).WindowAdd(ctx, f.bob, governance.Window{Name: "staging", Environments: []string{"staging"},
		Weekdays: []int{weekday}, Start: 9 * 60, End: 10 * 60, TimeZone: "UTC"})
	require.NoError(t, err)
	waiting := f.scaleUp(t, f.staging)
	f.approve(t, waiting, f.bob)

	svc := approvals.New(f.pool, approvals.Config{OnApproved: f.worker.OnApproved,
		Emergency: approvals.EmergencyConfig{Groups: []string{"approvers"}, ReviewWithin: time.Hour}})
	c, err := inventory.ClusterGet(ctx, f.pool, f.staging)
	require.NoError(t, err)
	emergency, err := svc.CreateEmergency(ctx, f.carol, approvals.NewRequest{Kind: approvals.KindRestartServer,
		ClusterUID: f.staging, Reason: "broker down", InstanceID: c.Status.Servers[0].InstanceID}, "broker out of memory")
	require.NoError(t, err)

	queue, err := execution.ClusterQueue(ctx, f.pool, f.staging)
	require.NoError(t, err)
	require.Len(t, queue, 2)
	require.Equal(t, emergency.ID, queue[0].RequestID, "the emergency runs first")
	require.Equal(t, []int{1, 2}, []int{queue[0].Position, queue[1].Position})
	require.Equal(t, approvals.StateSucceeded, f.wait(t, emergency.ID).State)

	got, err := approvals.Get(ctx, f.pool, waiting.ID)
	require.NoError(t, err)
	require.Equal(t, approvals.StateApproved, got.State, "the earlier change still waits for its window")
	pos, err := execution.QueuePosition(ctx, f.pool, waiting.ID, waiting.Revision.Number)
	require.NoError(t, err)
	require.Equal(t, 1, pos)
	require.Zero(t, f.mutations(cloudapi.OpUpdateCluster, f.staging))
}
