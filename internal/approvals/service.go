package approvals

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// Classifier derives the environment and owning team of a cluster from its
// name and spec; inventory.Rules is one. The service uses it for clusters
// that do not exist yet (create requests) and for updates that change the
// tags.
type Classifier interface {
	Classify(name string, spec cloudapi.ClusterSpec) (environment, team string)
}

// Config configures a Service.
type Config struct {
	// Classifier places new clusters; nil means inventory.Rules{} (tags,
	// then "default").
	Classifier Classifier
	// OnApproved, when set, runs inside the transaction of the approval
	// that meets the policy, after the request is approved: the place to
	// enqueue its submission (a River InsertTx), so that the approval, its
	// audit event and the job commit together. An error rolls the approval
	// back and is returned by Approve.
	OnApproved func(ctx context.Context, tx pgx.Tx, r Request) error
	// OnRevision, when set, runs inside the transaction that files,
	// edits or rebases a request, after its new revision is stored: the
	// place to enqueue the revision's dry run (RunDryRun) in the
	// background. An error rolls the change back.
	OnRevision func(ctx context.Context, tx pgx.Tx, r Request) error
	// Permissions, when set, decide who may request and approve what on
	// which cluster (teams and ownership, internal/governance); nil keeps
	// the global roles alone.
	Permissions Permissions
	// Emergency configures break-glass changes (CreateEmergency).
	Emergency EmergencyConfig
}

// Service runs the use cases that change requests: each method is one
// transaction that locks the request, checks who may do what, changes it
// and appends the audit event. Reads are package functions taking a
// Querier (Get, Detail, ListMine, …).
type Service struct {
	pool       *pgxpool.Pool
	classifier Classifier
	onApproved func(ctx context.Context, tx pgx.Tx, r Request) error
	onRevision func(ctx context.Context, tx pgx.Tx, r Request) error
	// permissions is nil without governance (see Config.Permissions).
	permissions Permissions
	emergency   EmergencyConfig
}

// New returns a Service on pool.
func New(pool *pgxpool.Pool, cfg Config) *Service {
	s := &Service{pool: pool, classifier: cfg.Classifier, onApproved: cfg.OnApproved, onRevision: cfg.OnRevision,
		permissions: cfg.Permissions, emergency: cfg.Emergency}
	if s.classifier == nil {
		s.classifier = inventory.Rules{}
	}
	return s
}
