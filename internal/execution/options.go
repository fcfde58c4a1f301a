package execution

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// API is the part of the Cloud Manager client that execution calls;
// *cloudapi.Client has it. Build it with NewClient: the client must not
// retry calls of its own, since every attempt is recorded, reconciled and
// retried here.
type API interface {
	ListClusters(ctx context.Context, opts ...cloudapi.Option) ([]cloudapi.Cluster, error)
	GetCluster(ctx context.Context, id string, opts ...cloudapi.Option) (*cloudapi.Cluster, error)
	CreateCluster(ctx context.Context, cluster *cloudapi.Cluster, opts ...cloudapi.Option) (*cloudapi.Cluster, error)
	UpdateCluster(ctx context.Context, id string, patch json.RawMessage, opts ...cloudapi.Option) (*cloudapi.Cluster, error)
	ReplaceCluster(ctx context.Context, id string, cluster *cloudapi.Cluster, opts ...cloudapi.Option) (*cloudapi.Cluster, error)
	DeleteCluster(ctx context.Context, id string) error
	RestartServer(ctx context.Context, id, instanceID string) error
}

// NewClient is the one place that builds the client execution sends
// changes with: cfg with retries switched off (one HTTP call per attempt),
// so that no call is sent again without being recorded and reconciled.
func NewClient(cfg cloudapi.Config) (*cloudapi.Client, error) {
	cfg.Retry = cloudapi.RetryPolicy{MaxAttempts: 1}
	return cloudapi.New(cfg)
}

// Jobs inserts the jobs that drive execution, in the caller's transaction
// (internal/worker implements it with River).
type Jobs interface {
	// Submit queues an attempt of revision rev of request id; resend
	// counts an admin's resends and requeue the times it was queued anew
	// after its approvals expired, so that each is a job of its own.
	Submit(ctx context.Context, tx pgx.Tx, id int64, rev, resend, requeue int) error
	// Track queues the tracking of an accepted change.
	Track(ctx context.Context, tx pgx.Tx, id int64, rev int) error
}

// Options configure an Executor.
type Options struct {
	// API sends the changes (see NewClient); Inventory reads the cluster
	// before each attempt and while tracking (one GET each, which also
	// refreshes the inventory). Both are required.
	API       API
	Inventory *inventory.Syncer
	// Behaviour is what is assumed of the API where its reference is
	// silent (running and busy states, healthy values, whether it fills
	// defaults); the zero value is cloudapi.DefaultBehaviour.
	Behaviour cloudapi.Behaviour
	// MaxAttempts is the budget of attempts that may have failed upstream
	// (5xx, timeouts, connection errors); 409 and 429 answers do not count.
	// Zero means 8.
	MaxAttempts int
	// RetryBase is the wait after the first failed attempt, doubling after
	// each further one up to RetryMax. Zero means 2 s and 5 min.
	RetryBase, RetryMax time.Duration
	// BusyWait is how long a change waits before trying again when its
	// cluster is busy (409) or another change of the cluster goes first.
	// Zero means 10 s.
	BusyWait time.Duration
	// InFlightTimeout is how long an attempt may stay without an answer
	// recorded before it is taken for one whose process died mid-call: its
	// outcome becomes unknown and the next attempt reconciles. Keep it
	// above the API client's timeout. Zero means 5 min.
	InFlightTimeout time.Duration
	// SettleTime is the longest the API, or a gateway in front of it, may
	// still process a call the client gave up on. A change of unknown
	// outcome is not taken for "never applied" (and sent again) before it
	// has passed since the call; a create is then never sent again. Keep
	// it at least the API client's timeout. Zero means 2 min.
	SettleTime time.Duration
	// TrackInterval is how often an accepted change's cluster is read
	// until it has converged; TrackTimeout fails a change that has not
	// converged that long after its acceptance. Zero means 5 s and 2 h.
	TrackInterval, TrackTimeout time.Duration
	// Observe, when set, is told the outcome of each attempt once it is
	// stored (OutcomeAccepted, OutcomeBusy, …), and OutcomeReconciled when
	// a lost answer's change is found applied (e.g. to count them).
	Observe func(outcome string)
}

func (o Options) withDefaults() (Options, error) {
	if o.API == nil || o.Inventory == nil {
		return o, errors.New("execution: Options need API and Inventory")
	}
	o.Behaviour = o.Behaviour.WithDefaults()
	if err := o.Behaviour.Validate(); err != nil {
		return o, fmt.Errorf("execution: %w", err)
	}
	o.MaxAttempts = or(o.MaxAttempts, 8)
	o.RetryBase = or(o.RetryBase, 2*time.Second)
	o.RetryMax = or(o.RetryMax, 5*time.Minute)
	o.BusyWait = or(o.BusyWait, 10*time.Second)
	o.InFlightTimeout = or(o.InFlightTimeout, 5*time.Minute)
	o.SettleTime = or(o.SettleTime, 2*time.Minute)
	o.TrackInterval = or(o.TrackInterval, 5*time.Second)
	o.TrackTimeout = or(o.TrackTimeout, 2*time.Hour)
	return o, nil
}

func or[T int | time.Duration](v, fallback T) T {
	if v > 0 {
		return v
	}
	return fallback
}

// backoff is the wait after failed attempt n (1 for the first).
func (o Options) backoff(n int) time.Duration {
	d := o.RetryBase << min(max(n-1, 0), 20)
	if d <= 0 || d > o.RetryMax {
		return o.RetryMax
	}
	return d
}
