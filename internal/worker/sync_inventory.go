package worker

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// DefaultInventorySyncInterval is how often the inventory is synced when
// Options.InventorySyncInterval is zero.
const DefaultInventorySyncInterval = 30 * time.Second

// InventorySyncArgs copies every cluster from the Cloud Manager API into
// the inventory (one list call), periodically and at start.
type InventorySyncArgs struct{}

// Kind names the job in River's tables.
func (InventorySyncArgs) Kind() string { return "inventory_sync" }

// InventoryRefreshArgs re-reads one cluster (one call), e.g. right before
// a request is filed or approved, or when someone presses "refresh".
type InventoryRefreshArgs struct {
	ClusterUID string `json:"cluster_uid"`
}

// Kind names the job in River's tables.
func (InventoryRefreshArgs) Kind() string { return "inventory_refresh" }

// InsertOpts: a refresh that fails is not worth retrying for long; the
// next sync catches up.
func (InventoryRefreshArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

type inventorySyncWorker struct {
	river.WorkerDefaults[InventorySyncArgs]
	syncer   *inventory.Syncer
	timeout  time.Duration
	observer Observer
}

// Timeout keeps a hanging sync from overlapping many of the next ones.
func (w *inventorySyncWorker) Timeout(*river.Job[InventorySyncArgs]) time.Duration { return w.timeout }

// Work syncs once. A failure (API unreachable) is not retried: the next
// periodic run is the retry, so a long outage does not pile up backoffs
// that would hold the singleton slot.
func (w *inventorySyncWorker) Work(ctx context.Context, _ *river.Job[InventorySyncArgs]) error {
	if _, err := w.syncer.Sync(ctx); err != nil {
		return err
	}
	observerOr(w.observer).InventorySynced(time.Now())
	return nil
}

type inventoryRefreshWorker struct {
	river.WorkerDefaults[InventoryRefreshArgs]
	syncer *inventory.Syncer
}

// Work refreshes the cluster; one the API no longer has is recorded as
// deleted, which is a success.
func (w *inventoryRefreshWorker) Work(ctx context.Context, job *river.Job[InventoryRefreshArgs]) error {
	_, err := w.syncer.Refresh(ctx, job.Args.ClusterUID)
	if errors.Is(err, inventory.ErrNotFound) {
		return nil
	}
	return err
}

// addInventoryJobs registers the inventory's workers and its periodic sync
// when opts has a Syncer, and returns periodic with the sync added.
func addInventoryJobs(workers *river.Workers, periodic []*river.PeriodicJob, opts Options) []*river.PeriodicJob {
	if opts.Inventory == nil {
		return periodic
	}
	interval := opts.InventorySyncInterval
	if interval <= 0 {
		interval = DefaultInventorySyncInterval
	}
	river.AddWorker(workers, &inventorySyncWorker{syncer: opts.Inventory, timeout: max(interval, time.Minute), observer: opts.Observer})
	river.AddWorker(workers, &inventoryRefreshWorker{syncer: opts.Inventory})
	return append(periodic, river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			insert := singleton()
			insert.MaxAttempts = 1
			return InventorySyncArgs{}, insert
		},
		&river.PeriodicJobOpts{ID: "inventory_sync", RunOnStart: true}))
}
