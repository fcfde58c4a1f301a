package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

// subFixture is a database, the simulator seeded with the demo clusters on
// a real HTTP server, an inventory synced from it, the approvals service
// wired to a real worker (not started until start is called) with short
// intervals, and the people of the dev identity provider.
//
// Clusters: staging (analytics-staging, one approval), dev
// (clickstream-dev, development, stopped), prod (analytics-prod, two
// approvals).
type subFixture struct {
	pool   *pgxpool.Pool
	sim    *sim.Server
	client *cloudapi.Client
	syncer *inventory.Syncer
	svc    *approvals.Service
	worker *Worker

	// reject400 makes the HTTP server answer every PATCH with a 400 with
	// field details, before the simulator sees it.
	reject400 atomic.Bool

	apiURL, tokenURL string

	alice, bob, carol approvals.Actor
	staging, dev      string
}

func setupSubmission(t testing.TB) *subFixture {
	t.Helper()
	ctx := context.Background()
	s, err := sim.New(sim.Config{SeedDemo: true, StageDuration: 5 * time.Millisecond})
	require.NoError(t, err)
	f := &subFixture{pool: testdb.New(t), sim: s}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.reject400.Load() && r.Method == http.MethodPatch {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"code":"BadArgument","message":"Invalid cluster configuration",
				"details":[{"code":"MalformedValue","target":"spec.data.tier1.instanceType","message":"instance type is not offered in this region"}]}}`))
			return
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		server.Close()
		require.NoError(t, s.Close())
	})
	f.apiURL, f.tokenURL = s.APIURL(server.URL), s.TokenURL(server.URL)
	f.client, err = cloudapi.New(cloudapi.Config{
		BaseURL: f.apiURL, TokenURL: f.tokenURL,
		ClientID: "clusterdesk", ClientSecret: "clusterdesk-sim-secret",
		Timeout: 300 * time.Millisecond,
		// The submit job retries, records and reconciles each attempt.
		Retry: cloudapi.RetryPolicy{MaxAttempts: 1},
	})
	require.NoError(t, err)
	envRules, err := inventory.ParseNameRules("-dev$=development")
	require.NoError(t, err)
	rules := inventory.Rules{Environments: envRules}
	f.syncer = inventory.NewSyncer(f.pool, f.client, inventory.Config{Rules: rules, OnChange: approvals.ClusterChanged})

	f.worker, err = New(f.pool, slog.New(slog.DiscardHandler), Options{
		AuditVerifyInterval: time.Hour,
		FetchCooldown:       10 * time.Millisecond,
		FetchPollInterval:   20 * time.Millisecond,
		Execution: &execution.Options{
			API: f.client, Inventory: f.syncer, MaxAttempts: 4,
			RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond,
			BusyWait: 30 * time.Millisecond, SettleTime: 300 * time.Millisecond, TrackInterval: 20 * time.Millisecond, TrackTimeout: 20 * time.Second,
		},
	})
	require.NoError(t, err)
	f.svc = approvals.New(f.pool, approvals.Config{Classifier: rules, OnApproved: f.worker.OnApproved})

	f.alice = f.user(t, "alice", false, "developers")
	f.bob = f.user(t, "bob", false, "developers", "approvers")
	f.carol = f.user(t, "carol", false, "approvers")
	_, err = f.syncer.Sync(ctx)
	require.NoError(t, err)
	for name, uid := range map[string]*string{"analytics-staging": &f.staging, "clickstream-dev": &f.dev} {
		list, err := inventory.ClusterByName(ctx, f.pool, name)
		require.NoError(t, err)
		require.Len(t, list, 1)
		*uid = list[0].UID
	}
	return f
}

// start runs the worker until the test ends.
func (f *subFixture) start(t testing.TB) {
	t.Helper()
	require.NoError(t, f.worker.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, f.worker.Stop(ctx))
	})
}

func (f *subFixture) user(t testing.TB, name string, admin bool, groups ...string) approvals.Actor {
	t.Helper()
	var id int64
	err := f.pool.QueryRow(context.Background(), `
		INSERT INTO users (issuer, subject, username, name, groups, last_login_at)
		VALUES ('https://idp.test', $1, $1, $2, $3, now()) RETURNING id`,
		"sub-"+name, name+" Example", groups).Scan(&id)
	require.NoError(t, err)
	return approvals.Actor{UserID: id, Name: name + " Example", Groups: groups, Approver: slices.Contains(groups, "approvers"), Admin: admin}
}

// specOf returns cluster uid as the inventory has it, with a deep copy of
// its spec to edit.
func (f *subFixture) specOf(t testing.TB, uid string) (inventory.Cluster, cloudapi.ClusterSpec) {
	t.Helper()
	c, err := inventory.ClusterGet(context.Background(), f.pool, uid)
	require.NoError(t, err)
	raw, err := json.Marshal(c.Spec)
	require.NoError(t, err)
	var spec cloudapi.ClusterSpec
	require.NoError(t, json.Unmarshal(raw, &spec))
	return c, spec
}

// scaleUp files alice's request to add a tier-1 data server to uid.
func (f *subFixture) scaleUp(t testing.TB, uid string) approvals.Request {
	t.Helper()
	c, spec := f.specOf(t, uid)
	n := *spec.Data.Tier1.Replicas + 1
	spec.Data.Tier1.Replicas = &n
	r, err := f.svc.Create(context.Background(), f.alice, approvals.NewRequest{
		Kind: approvals.KindUpdate, ClusterUID: uid, Reason: "more capacity",
		Spec: &spec, SeenResourceVersion: &c.ResourceVersion,
	})
	require.NoError(t, err)
	return r
}

// file files alice's request of kind on uid.
func (f *subFixture) file(t testing.TB, kind approvals.Kind, uid string) approvals.Request {
	t.Helper()
	in := approvals.NewRequest{Kind: kind, ClusterUID: uid, Reason: "routine " + string(kind)}
	if kind == approvals.KindRestartServer {
		c, err := inventory.ClusterGet(context.Background(), f.pool, uid)
		require.NoError(t, err)
		in.InstanceID = c.Status.Servers[0].InstanceID
	}
	r, err := f.svc.Create(context.Background(), f.alice, in)
	require.NoError(t, err)
	return r
}

// approve approves r as each of by in turn, with the live resource
// version, until the policy is met.
func (f *subFixture) approve(t testing.TB, r approvals.Request, by ...approvals.Actor) {
	t.Helper()
	ctx := context.Background()
	var rv int64
	if r.ClusterUID != "" {
		c, err := f.client.GetCluster(ctx, r.ClusterUID)
		require.NoError(t, err)
		rv = c.Status.ResourceVersion
	}
	for _, a := range by {
		out, err := f.svc.Approve(ctx, a, r.ID, approvals.Approve{Revision: r.Revision.Number, LiveResourceVersion: rv})
		require.NoError(t, err)
		if out.Completed {
			return
		}
	}
	t.Fatalf("request %d still needs approvals", r.ID)
}

// wait waits until request id is in a terminal state or stale, and
// returns it.
func (f *subFixture) wait(t testing.TB, id int64) approvals.Request {
	t.Helper()
	var r approvals.Request
	require.Eventually(t, func() bool {
		var err error
		r, err = approvals.Get(context.Background(), f.pool, id)
		require.NoError(t, err)
		return r.State.Terminal() || r.State == approvals.StateStale
	}, 20*time.Second, 10*time.Millisecond, "request %d never finished", id)
	return r
}

// mutations counts the simulator's calls of op on cluster uid (any cluster
// when uid is empty) that changed something: the oracle.
func (f *subFixture) mutations(op cloudapi.Operation, uid string) int {
	n := 0
	for _, c := range f.sim.Calls() {
		if c.Mutated && c.Operation == op && (uid == "" || c.ClusterID == uid) {
			n++
		}
	}
	return n
}

// actions returns the audit actions about request id, oldest first.
func (f *subFixture) actions(t testing.TB, id int64) []audit.Action {
	t.Helper()
	page, err := audit.List(context.Background(), f.pool,
		audit.Filter{SubjectType: audit.SubjectRequest, SubjectID: strconv.FormatInt(id, 10)},
		audit.PageRequest{Oldest: true, Limit: 100})
	require.NoError(t, err)
	entries := page.Entries
	slices.SortFunc(entries, func(a, b audit.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	out := make([]audit.Action, len(entries))
	for i, e := range entries {
		out[i] = e.Action
	}
	return out
}

// verified checks that the audit chain verifies.
func (f *subFixture) verified(t testing.TB) {
	t.Helper()
	r, err := audit.Verify(context.Background(), f.pool)
	require.NoError(t, err)
	require.True(t, r.OK, r.String())
}

// attempts returns the outcomes of request id's attempts, in order.
func (f *subFixture) attempts(t testing.TB, id int64) []string {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `
		SELECT coalesce(outcome, 'in flight') FROM submission_attempts WHERE request_id = $1 ORDER BY attempt`, id)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

func count(actions []audit.Action, a audit.Action) int {
	n := 0
	for _, x := range actions {
		if x == a {
			n++
		}
	}
	return n
}

// rebuild replaces the worker (not started yet) by one whose submission
// options edit changed.
func (f *subFixture) rebuild(t testing.TB, edit func(*execution.Options)) {
	t.Helper()
	opts := execution.Options{
		API: f.client, Inventory: f.syncer, MaxAttempts: 4,
		RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		BusyWait: 30 * time.Millisecond, SettleTime: 300 * time.Millisecond, TrackInterval: 20 * time.Millisecond, TrackTimeout: 20 * time.Second,
	}
	edit(&opts)
	w, err := New(f.pool, slog.New(slog.DiscardHandler), Options{
		AuditVerifyInterval: time.Hour, FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
		Execution: &opts,
	})
	require.NoError(t, err)
	f.worker = w
}
