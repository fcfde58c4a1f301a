package approvals_test

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/simtest"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// fixture is a database with the people of the dev identity provider, a
// simulator seeded with the demo clusters on a real HTTP server, an
// inventory synced from it (whose hook marks requests stale) and the
// service, whose OnApproved hook records what it is given.
//
// People: alice (developers), bob (developers, approvers), carol
// (approvers), dave (admins, approvers), erin (approvers), mallory (none).
// Clusters: prod (analytics-prod, production, 3 masters), staging
// (analytics-staging), dev (clickstream-dev, development, stopped).
type fixture struct {
	pool   *pgxpool.Pool
	sim    *sim.Server
	client *cloudapi.Client
	syncer *inventory.Syncer
	svc    *approvals.Service

	alice, bob, carol, dave, erin, mallory approvals.Actor
	prod, staging, dev                     string

	mu       sync.Mutex
	approved []approvals.Request
}

func setup(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	s, client := simtest.Start(t, 2*time.Millisecond)
	envRules, err := inventory.ParseNameRules("-dev$=development")
	require.NoError(t, err)
	rules := inventory.Rules{Environments: envRules}

	f := &fixture{pool: testdb.New(t), sim: s, client: client}
	f.syncer = inventory.NewSyncer(f.pool, client, inventory.Config{Rules: rules, OnChange: approvals.ClusterChanged})
	f.svc = approvals.New(f.pool, approvals.Config{
		Classifier: rules,
		OnApproved: func(_ context.Context, _ pgx.Tx, r approvals.Request) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.approved = append(f.approved, r)
			return nil
		},
	})
	f.alice = f.user(t, "alice", false, "developers")
	f.bob = f.user(t, "bob", false, "developers", "approvers")
	f.carol = f.user(t, "carol", false, "approvers")
	f.dave = f.user(t, "dave", true, "admins", "approvers")
	f.erin = f.user(t, "erin", false, "approvers")
	f.mallory = f.user(t, "mallory", false)

	_, err = f.syncer.Sync(ctx)
	require.NoError(t, err)
	for name, uid := range map[string]*string{"analytics-prod": &f.prod, "analytics-staging": &f.staging, "clickstream-dev": &f.dev} {
		list, err := inventory.ClusterByName(ctx, f.pool, name)
		require.NoError(t, err)
		require.Len(t, list, 1)
		*uid = list[0].UID
	}
	return f
}

// user adds a person to the users table and returns them as an actor.
func (f *fixture) user(t testing.TB, name string, admin bool, groups ...string) approvals.Actor {
	t.Helper()
	if groups == nil {
		groups = []string{}
	}
	var id int64
	err := f.pool.QueryRow(context.Background(), `
		INSERT INTO users (issuer, subject, username, name, groups, last_login_at)
		VALUES ('https://idp.test', $1, $1, $2, $3, now()) RETURNING id`,
		"sub-"+name, name+" Example", groups).Scan(&id)
	require.NoError(t, err)
	// The approver role as the default PORTAL_APPROVER_GROUPS=approvers grants it.
	approver := slices.Contains(groups, "approvers")
	return approvals.Actor{UserID: id, Name: name + " Example", Groups: groups, Approver: approver, Admin: admin,
		Origin: audit.Origin{IP: "192.0.2.1", RequestID: "req-" + name}}
}

// cluster returns the inventory's copy of uid.
func (f *fixture) cluster(t testing.TB, uid string) inventory.Cluster {
	t.Helper()
	c, err := inventory.ClusterGet(context.Background(), f.pool, uid)
	require.NoError(t, err)
	return c
}

// live returns the API's resource version of uid, as a handler would read
// it before an approval.
func (f *fixture) live(t testing.TB, uid string) int64 {
	t.Helper()
	c, err := f.client.GetCluster(context.Background(), uid)
	require.NoError(t, err)
	return c.Status.ResourceVersion
}

// update files an update request by a on uid, with the change made by
// edit to the inventory's spec.
func (f *fixture) update(t testing.TB, a approvals.Actor, uid string, edit func(*cloudapi.ClusterSpec)) approvals.Request {
	t.Helper()
	c := f.cluster(t, uid)
	spec := cloneSpec(t, c.Spec)
	edit(&spec)
	r, err := f.svc.Create(context.Background(), a, approvals.NewRequest{
		Kind: approvals.KindUpdate, ClusterUID: uid, Reason: "more capacity for the holiday season",
		Spec: &spec, SeenResourceVersion: &c.ResourceVersion,
	})
	require.NoError(t, err)
	return r
}

// file files a request of kind by a on uid.
func (f *fixture) file(t testing.TB, a approvals.Actor, kind approvals.Kind, uid string) approvals.Request {
	t.Helper()
	in := approvals.NewRequest{Kind: kind, ClusterUID: uid, Reason: "routine " + string(kind)}
	if kind == approvals.KindRestartServer {
		in.InstanceID = f.cluster(t, uid).Status.Servers[0].InstanceID
	}
	r, err := f.svc.Create(context.Background(), a, in)
	require.NoError(t, err)
	return r
}

// approve approves r's current revision as a with the live version.
func (f *fixture) approve(t testing.TB, a approvals.Actor, r approvals.Request) (approvals.Outcome, error) {
	t.Helper()
	return f.svc.Approve(context.Background(), a, r.ID, approvals.Approve{
		Revision: r.Revision.Number, LiveResourceVersion: f.live(t, r.ClusterUID)})
}

// changeOutside changes uid through the API, as someone in the Imply
// Manager would, and waits until the change is applied.
func (f *fixture) changeOutside(t testing.TB, uid, patch string) {
	t.Helper()
	ctx := context.Background()
	_, err := f.client.UpdateCluster(ctx, uid, json.RawMessage(patch))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		c, err := f.client.GetCluster(ctx, uid)
		require.NoError(t, err)
		return !c.Status.State.Busy()
	}, 5*time.Second, 2*time.Millisecond)
}

// events returns the audit actions about request id, oldest first.
func (f *fixture) events(t testing.TB, id int64) []audit.Entry {
	t.Helper()
	page, err := audit.List(context.Background(), f.pool, audit.Filter{SubjectType: audit.SubjectRequest, SubjectID: strconv.FormatInt(id, 10)}, audit.PageRequest{Oldest: true, Limit: 100})
	require.NoError(t, err)
	entries := page.Entries
	slices.SortFunc(entries, func(a, b audit.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	return entries
}

func actions(entries []audit.Entry) []audit.Action {
	out := make([]audit.Action, len(entries))
	for i, e := range entries {
		out[i] = e.Action
	}
	return out
}

func state(t testing.TB, f *fixture, id int64) approvals.State {
	t.Helper()
	r, err := approvals.Get(context.Background(), f.pool, id)
	require.NoError(t, err)
	return r.State
}

func cloneSpec(t testing.TB, s cloudapi.ClusterSpec) cloudapi.ClusterSpec {
	t.Helper()
	raw, err := json.Marshal(s)
	require.NoError(t, err)
	var out cloudapi.ClusterSpec
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

func ptr[T any](v T) *T { return &v }

// newSpec is a valid spec for a new development cluster.
func newSpec() cloudapi.ClusterSpec {
	return cloudapi.ClusterSpec{
		Version: "2024.01", AWSInstanceRole: "imply-dev-instance",
		Master:      &cloudapi.MasterConfig{Replicas: ptr[int32](1), InstanceType: "t3.medium"},
		Query:       &cloudapi.QueryConfig{Replicas: ptr[int32](1), InstanceType: "t3.medium"},
		Data:        &cloudapi.DataConfig{Tier1: &cloudapi.DataTier{Replicas: ptr[int32](1), InstanceType: "t3.medium"}},
		DeepStorage: &cloudapi.DeepStorage{Path: "s3://acme-druid-dev/new"},
	}
}
