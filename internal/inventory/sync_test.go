package inventory_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/simtest"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// fixture is a database, a simulator seeded with the demo clusters
// (analytics-prod, analytics-staging, clickstream-dev) on a real HTTP
// server, a client for it and a Syncer whose hook records what it gets.
type fixture struct {
	pool   *pgxpool.Pool
	sim    *sim.Server
	client *cloudapi.Client
	syncer *inventory.Syncer

	mu     sync.Mutex
	hooked [][]inventory.Change
}

func setup(t *testing.T) *fixture {
	t.Helper()
	s, client := simtest.Start(t, 5*time.Millisecond)
	f := &fixture{pool: testdb.New(t), sim: s, client: client}
	f.syncer = inventory.NewSyncer(f.pool, client, inventory.Config{
		Rules: inventory.Rules{Environments: mustRules(t, "-dev$=development")},
		OnChange: func(_ context.Context, _ pgx.Tx, changes []inventory.Change) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.hooked = append(f.hooked, changes)
			return nil
		},
	})
	return f
}

func (f *fixture) sync(t *testing.T) inventory.Result {
	t.Helper()
	r, err := f.syncer.Sync(context.Background())
	require.NoError(t, err)
	return r
}

func (f *fixture) calls(op cloudapi.Operation) int {
	n := 0
	for _, c := range f.sim.Calls() {
		if c.Operation == op {
			n++
		}
	}
	return n
}

func (f *fixture) byName(t *testing.T, name string) inventory.Cluster {
	t.Helper()
	list, err := inventory.ClusterByName(context.Background(), f.pool, name)
	require.NoError(t, err)
	require.Len(t, list, 1, name)
	return list[0]
}

// settle waits until no cluster is busy, syncing as it goes.
func (f *fixture) settle(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		clusters, err := f.client.ListClusters(context.Background())
		require.NoError(t, err)
		for _, c := range clusters {
			if c.Status.State.Busy() {
				return false
			}
		}
		return true
	}, 5*time.Second, 5*time.Millisecond)
}

func TestSyncInsertsEveryClusterWithItsEnvironment(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	r := f.sync(t)
	require.Equal(t, inventory.Result{Listed: 3, Created: 3}, r)
	require.Equal(t, 1, f.calls(cloudapi.OpListClusters))
	require.Zero(t, f.calls(cloudapi.OpGetCluster), "a sync is one list call")

	list, err := inventory.ClusterList(ctx, f.pool, inventory.Filter{})
	require.NoError(t, err)
	require.Len(t, list, 3)
	got := map[string][2]string{}
	for _, s := range list {
		got[s.Name] = [2]string{s.Environment, s.Team}
	}
	require.Equal(t, map[string][2]string{
		"analytics-prod":    {"production", "data-platform"}, // env and team tags
		"analytics-staging": {"staging", ""},                 // env tag
		"clickstream-dev":   {"development", ""},             // name rule
	}, got)

	prod := f.byName(t, "analytics-prod")
	require.Equal(t, "2024.01", prod.Spec.Version)
	require.Equal(t, int32(4), *prod.Spec.Data.Tier1.Replicas, "the demo's second version")
	require.Equal(t, int64(1), prod.ResourceVersion)
	require.Equal(t, cloudapi.StateStarted, prod.State)
	require.NotEmpty(t, prod.Status.Servers)
	require.False(t, prod.Deleted())
	srv := prod.Status.Servers[0]
	found, ok := prod.Server(srv.InstanceID)
	require.True(t, ok)
	require.Equal(t, srv, found)

	summary := list[0]
	require.Equal(t, "analytics-prod", summary.Name)
	require.Equal(t, len(prod.Status.Servers), summary.ServerCount)
	require.Equal(t, "2024.01", summary.Version)
	require.Equal(t, cloudapi.DesiredStarted, summary.DesiredState)

	versions, err := inventory.VersionList(ctx, f.pool, prod.UID)
	require.NoError(t, err)
	require.Len(t, versions, 1)
	require.Equal(t, int64(1), versions[0].ResourceVersion)
	require.Equal(t, prod.Spec.DeepStorage.Path, versions[0].Spec.DeepStorage.Path)

	require.Len(t, f.hooked, 1)
	require.Len(t, f.hooked[0], 3)
	for _, c := range f.hooked[0] {
		require.Equal(t, inventory.ChangeCreated, c.Kind)
		require.False(t, c.VersionMoved())
	}
}

func TestSyncWithoutChangesWritesNothingAndViewersCostNoCalls(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.sync(t)
	before := f.byName(t, "analytics-staging")

	r := f.sync(t)
	require.Equal(t, inventory.Result{Listed: 3, Unchanged: 3}, r)
	require.Len(t, f.hooked, 1, "no changes, no hook")
	after := f.byName(t, "analytics-staging")
	require.Equal(t, before.ChangedAt, after.ChangedAt)
	require.True(t, after.SyncedAt.After(before.SyncedAt))

	// Fifty people looking at the pages call the API zero times.
	calls := len(f.sim.Calls())
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := inventory.ClusterList(ctx, f.pool, inventory.Filter{})
			require.NoError(t, err)
			_, err = inventory.ClusterGet(ctx, f.pool, before.UID)
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.Equal(t, calls, len(f.sim.Calls()))
}

func TestSyncRecordsANewVersionAndTellsTheHook(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.sync(t)
	staging := f.byName(t, "analytics-staging")

	f.sim.PauseUpdates() // hold the update at its first stage while the sync looks
	_, err := f.client.UpdateCluster(ctx, staging.UID, json.RawMessage(`{"spec":{"query":{"replicas":2}}}`))
	require.NoError(t, err)
	r := f.sync(t)
	f.sim.ResumeUpdates()
	require.Equal(t, 1, r.Updated)
	require.Equal(t, 2, r.Unchanged)

	last := f.hooked[len(f.hooked)-1]
	require.Len(t, last, 1)
	change := last[0]
	require.Equal(t, inventory.ChangeUpdated, change.Kind)
	require.Equal(t, staging.UID, change.UID)
	require.Equal(t, staging.ResourceVersion, change.PreviousResourceVersion)
	require.Equal(t, staging.ResourceVersion+1, change.ResourceVersion)
	require.True(t, change.VersionMoved())
	require.Equal(t, cloudapi.StateUpdating, change.State)

	// The update finishing changes the status only: a change that does not
	// move the version.
	f.settle(t)
	f.sync(t)
	last = f.hooked[len(f.hooked)-1]
	require.Len(t, last, 1)
	require.False(t, last[0].VersionMoved())
	require.Equal(t, cloudapi.StateStarted, last[0].State)

	got := f.byName(t, "analytics-staging")
	require.Equal(t, int32(2), *got.Spec.Query.Replicas)
	versions, err := inventory.VersionList(ctx, f.pool, staging.UID)
	require.NoError(t, err)
	require.Len(t, versions, 2)
	require.Equal(t, change.ResourceVersion, versions[0].ResourceVersion, "newest first")
	require.Equal(t, int32(1), *versions[1].Spec.Query.Replicas)
}

func TestSyncMarksClustersTheAPINoLongerHasAsDeleted(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.sync(t)
	dev := f.byName(t, "clickstream-dev")

	require.NoError(t, f.client.DeleteCluster(ctx, dev.UID))
	r := f.sync(t)
	require.Equal(t, 1, r.Deleted)
	last := f.hooked[len(f.hooked)-1]
	require.Equal(t, []inventory.Change{{Kind: inventory.ChangeDeleted, UID: dev.UID, Name: "clickstream-dev",
		State: dev.State, ResourceVersion: dev.ResourceVersion, PreviousResourceVersion: dev.ResourceVersion}}, last)
	require.True(t, last[0].VersionMoved())

	list, err := inventory.ClusterList(ctx, f.pool, inventory.Filter{})
	require.NoError(t, err)
	require.Len(t, list, 2)
	all, err := inventory.ClusterList(ctx, f.pool, inventory.Filter{IncludeDeleted: true})
	require.NoError(t, err)
	require.Len(t, all, 3)
	gone, err := inventory.ClusterGet(ctx, f.pool, dev.UID)
	require.NoError(t, err)
	require.True(t, gone.Deleted())
	named, err := inventory.ClusterByName(ctx, f.pool, "clickstream-dev")
	require.NoError(t, err)
	require.Empty(t, named)

	require.Equal(t, 0, f.sync(t).Deleted, "deleted once")
}

func TestRefreshReadsOneCluster(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.sync(t)
	prod := f.byName(t, "analytics-prod")
	f.sim.ResetCalls()

	_, err := f.client.UpdateCluster(ctx, prod.UID, json.RawMessage(`{"spec":{"awsTags":[{"name":"environment","value":"staging"}]}}`))
	require.NoError(t, err)
	got, err := f.syncer.Refresh(ctx, prod.UID)
	require.NoError(t, err)
	require.Equal(t, prod.ResourceVersion+1, got.ResourceVersion)
	require.Equal(t, "staging", got.Environment, "re-derived from the new tags")
	require.Equal(t, "", got.Team)
	require.Equal(t, 1, f.calls(cloudapi.OpGetCluster))
	require.Equal(t, 0, f.calls(cloudapi.OpListClusters))

	_, err = f.syncer.Refresh(ctx, "no-such-cluster")
	require.ErrorIs(t, err, inventory.ErrNotFound)

	f.settle(t)
	require.NoError(t, f.client.DeleteCluster(ctx, prod.UID))
	_, err = f.syncer.Refresh(ctx, prod.UID)
	require.ErrorIs(t, err, inventory.ErrNotFound)
	stored, err := inventory.ClusterGet(ctx, f.pool, prod.UID)
	require.NoError(t, err)
	require.True(t, stored.Deleted())
}

func TestSyncNotifiesEachChange(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := f.pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "LISTEN "+inventory.NotifyChannel)
	require.NoError(t, err)

	f.sync(t)
	got := map[string]inventory.Notification{}
	for range 3 {
		n, err := conn.Conn().WaitForNotification(ctx)
		require.NoError(t, err)
		var payload inventory.Notification
		require.NoError(t, json.Unmarshal([]byte(n.Payload), &payload))
		got[payload.Name] = payload
	}
	prod := got["analytics-prod"]
	require.Equal(t, "cluster", prod.Type)
	require.Equal(t, inventory.ChangeCreated, prod.Change)
	require.Equal(t, int64(1), prod.ResourceVersion)
	require.Equal(t, "STARTED", prod.State)
	require.NotEmpty(t, prod.UID)
}

func TestSyncRollsBackWhenTheHookFails(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	failing := inventory.NewSyncer(f.pool, f.client, inventory.Config{
		OnChange: func(context.Context, pgx.Tx, []inventory.Change) error { return errors.New("boom") },
	})
	_, err := failing.Sync(ctx)
	require.ErrorContains(t, err, "boom")
	list, err := inventory.ClusterList(ctx, f.pool, inventory.Filter{IncludeDeleted: true})
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestSyncFailsWithoutWritingWhenTheAPIFails(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.sim.InjectFault(sim.Fault{Operation: cloudapi.OpListClusters, Status: 503})
	_, err := f.syncer.Sync(context.Background())
	require.Error(t, err)
	require.True(t, cloudapi.IsRetryable(err))
	list, err := inventory.ClusterList(context.Background(), f.pool, inventory.Filter{})
	require.NoError(t, err)
	require.Empty(t, list)
}

// staticAPI answers with fixed clusters.
type staticAPI struct{ clusters []cloudapi.Cluster }

func (a staticAPI) ListClusters(context.Context, ...cloudapi.Option) ([]cloudapi.Cluster, error) {
	return a.clusters, nil
}

func (a staticAPI) GetCluster(_ context.Context, id string, _ ...cloudapi.Option) (*cloudapi.Cluster, error) {
	for _, c := range a.clusters {
		if c.Metadata.UID == id {
			return &c, nil
		}
	}
	return nil, &cloudapi.APIError{StatusCode: 404}
}

func TestAnOlderVersionNeverReplacesANewerOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	at := func(rv int64, version string) cloudapi.Cluster {
		return cloudapi.Cluster{Metadata: cloudapi.ObjectMeta{Name: "c", UID: "u-1"},
			Spec: cloudapi.ClusterSpec{Version: version}, Status: &cloudapi.ClusterStatus{ResourceVersion: rv}}
	}
	_, err := inventory.NewSyncer(pool, staticAPI{[]cloudapi.Cluster{at(5, "new")}}, inventory.Config{}).Sync(ctx)
	require.NoError(t, err)
	r, err := inventory.NewSyncer(pool, staticAPI{[]cloudapi.Cluster{at(4, "old")}}, inventory.Config{}).Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, inventory.Result{Listed: 1, Skipped: 1}, r)
	c, err := inventory.ClusterGet(ctx, pool, "u-1")
	require.NoError(t, err)
	require.Equal(t, "new", c.Spec.Version)
	require.Equal(t, int64(5), c.ResourceVersion)
}

func TestClusterListFiltersAndSorts(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.sync(t)
	names := func(filter inventory.Filter) []string {
		t.Helper()
		list, err := inventory.ClusterList(ctx, f.pool, filter)
		require.NoError(t, err)
		var out []string
		for _, s := range list {
			out = append(out, s.Name)
		}
		return out
	}
	require.Equal(t, []string{"analytics-prod", "analytics-staging", "clickstream-dev"}, names(inventory.Filter{}))
	require.Equal(t, []string{"clickstream-dev", "analytics-staging", "analytics-prod"}, names(inventory.Filter{Desc: true}))
	require.Equal(t, []string{"clickstream-dev"}, names(inventory.Filter{State: cloudapi.StateStopped}))
	require.Equal(t, []string{"analytics-prod"}, names(inventory.Filter{Environment: "production"}))
	require.Equal(t, []string{"analytics-prod"}, names(inventory.Filter{Team: "data-platform"}))
	require.Equal(t, []string{"analytics-prod", "analytics-staging"}, names(inventory.Filter{Name: "ANALYTICS"}))
	require.Empty(t, names(inventory.Filter{Name: "%"}), "wildcards are literal")
	require.Equal(t, []string{"analytics-prod", "analytics-staging", "clickstream-dev"}, names(inventory.Filter{Sort: inventory.SortServers, Desc: true}))
	require.Equal(t, []string{"analytics-staging"}, names(inventory.Filter{Limit: 1, Offset: 1}))
	for _, key := range inventory.SortKeys() {
		require.Len(t, names(inventory.Filter{Sort: key}), 3, key)
	}
	_, err := inventory.ClusterList(ctx, f.pool, inventory.Filter{Sort: "name; DROP TABLE clusters"})
	require.ErrorContains(t, err, "unknown sort key")

	envs, err := inventory.Environments(ctx, f.pool)
	require.NoError(t, err)
	require.Equal(t, []string{"development", "production", "staging"}, envs)

	_, err = inventory.ClusterGet(ctx, f.pool, "nope")
	require.ErrorIs(t, err, inventory.ErrNotFound)
}

// corruptingTenant serves a simulator, except that while name is set the
// list shows that cluster with a spec the client cannot decode.
type corruptingTenant struct {
	sim *sim.Server

	mu   sync.Mutex
	name string
}

func (c *corruptingTenant) corrupt(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.name = name
}

func (c *corruptingTenant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	name := c.name
	c.mu.Unlock()
	if name == "" || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/clusters") {
		c.sim.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	c.sim.ServeHTTP(rec, r)
	var items []map[string]json.RawMessage
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &items) != nil {
		http.Error(w, "the simulator's list did not decode", http.StatusInternalServerError)
		return
	}
	for _, item := range items {
		var meta struct{ Name string }
		_ = json.Unmarshal(item["metadata"], &meta)
		if meta.Name == name {
			item["spec"] = json.RawMessage(`{"version":"2024.01","master":{"replicas":"three"}}`)
		}
	}
	body, _ := json.Marshal(items)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// logBuffer collects a logger's output for a test.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSyncKeepsAnUnreadableClusterMarkedAndSyncsTheOthers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := simtest.Start(t, 5*time.Millisecond)
	tenant := &corruptingTenant{sim: s}
	server := httptest.NewServer(tenant)
	t.Cleanup(server.Close)
	client := simtest.Client(t, s, server.URL)
	pool := testdb.New(t)
	logs := &logBuffer{}
	var hooked [][]inventory.Change
	syncer := inventory.NewSyncer(pool, client, inventory.Config{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OnChange: func(_ context.Context, _ pgx.Tx, changes []inventory.Change) error {
			hooked = append(hooked, changes)
			return nil
		},
	})
	sync := func() inventory.Result {
		t.Helper()
		r, err := syncer.Sync(ctx)
		require.NoError(t, err)
		return r
	}
	get := func(name string) inventory.Cluster {
		t.Helper()
		list, err := inventory.ClusterByName(ctx, pool, name)
		require.NoError(t, err)
		require.Len(t, list, 1)
		return list[0]
	}

	require.Equal(t, inventory.Result{Listed: 3, Created: 3}, sync())
	staging, prod := get("analytics-staging"), get("analytics-prod")
	require.Empty(t, staging.Unreadable)

	// Staging turns unreadable while prod changes: prod still syncs.
	tenant.corrupt("analytics-staging")
	_, err := client.UpdateCluster(ctx, prod.UID, json.RawMessage(`{"spec":{"awsTags":[{"name":"environment","value":"staging"}]}}`))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		c, err := client.GetCluster(ctx, prod.UID)
		require.NoError(t, err)
		return !c.Status.State.Busy()
	}, 5*time.Second, 5*time.Millisecond, "prod settles, so later syncs see no change of it")
	r := sync()
	require.Equal(t, 3, r.Listed)
	require.Equal(t, 1, r.Unreadable)
	require.Equal(t, 1, r.Updated, "prod")
	require.Equal(t, 1, r.Unchanged, "clickstream-dev")
	require.Zero(t, r.Deleted, "listed, so not deleted")

	marked := get("analytics-staging")
	require.Contains(t, marked.Unreadable, "replicas")
	require.Contains(t, marked.Unreadable, "cannot unmarshal string")
	require.Equal(t, staging.Spec, marked.Spec, "the last readable copy is kept")
	require.Equal(t, staging.ResourceVersion, marked.ResourceVersion)
	require.Equal(t, staging.SyncedAt, marked.SyncedAt, "synced_at is the last successful read")
	require.True(t, marked.ChangedAt.After(staging.ChangedAt))
	require.False(t, marked.Deleted())
	require.Equal(t, prod.ResourceVersion+1, get("analytics-prod").ResourceVersion)
	require.Equal(t, "staging", get("analytics-prod").Environment)
	require.Empty(t, get("analytics-prod").Unreadable)

	list, err := inventory.ClusterList(ctx, pool, inventory.Filter{Name: "analytics-staging"})
	require.NoError(t, err)
	require.Equal(t, marked.Unreadable, list[0].Unreadable, "the list shows the mark too")

	last := hooked[len(hooked)-1]
	i := slices.IndexFunc(last, func(c inventory.Change) bool { return c.UID == staging.UID })
	require.GreaterOrEqual(t, i, 0, "the mark is announced, so pages redraw")
	require.Equal(t, inventory.ChangeUpdated, last[i].Kind)
	require.False(t, last[i].VersionMoved(), "a mark is no new configuration")
	require.Contains(t, logs.String(), "cannot read")
	require.Contains(t, logs.String(), "uid="+staging.UID)

	// Still unreadable: nothing new to say.
	hooks := len(hooked)
	require.Equal(t, inventory.Result{Listed: 3, Unreadable: 1, Unchanged: 2}, sync())
	require.Len(t, hooked, hooks)
	require.Equal(t, marked.ChangedAt, get("analytics-staging").ChangedAt)

	// Readable again: the mark clears, and that is a change.
	tenant.corrupt("")
	require.Equal(t, inventory.Result{Listed: 3, Updated: 1, Unchanged: 2}, sync())
	cleared := get("analytics-staging")
	require.Empty(t, cleared.Unreadable)
	require.True(t, cleared.SyncedAt.After(marked.SyncedAt))
	require.Equal(t, []inventory.Change{{Kind: inventory.ChangeUpdated, UID: staging.UID, Name: staging.Name,
		State: staging.State, ResourceVersion: staging.ResourceVersion, PreviousResourceVersion: staging.ResourceVersion}},
		hooked[len(hooked)-1])
}

func TestSyncStoresNoClusterItNeverRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	logs := &logBuffer{}
	good := cloudapi.Cluster{Metadata: cloudapi.ObjectMeta{Name: "good", UID: "u-good"},
		Spec: cloudapi.ClusterSpec{Version: "2024.01"}, Status: &cloudapi.ClusterStatus{ResourceVersion: 1}}
	odd := cloudapi.Cluster{Metadata: cloudapi.ObjectMeta{Name: "odd", UID: "u-odd"}, Unreadable: "spec: bad"}
	syncer := inventory.NewSyncer(pool, staticAPI{[]cloudapi.Cluster{good, odd}},
		inventory.Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	r, err := syncer.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, inventory.Result{Listed: 2, Created: 1, Unreadable: 1}, r)
	_, err = inventory.ClusterGet(ctx, pool, "u-odd")
	require.ErrorIs(t, err, inventory.ErrNotFound, "nothing readable to show yet")
	require.Contains(t, logs.String(), "never read before")
}

func TestSyncDeletesNothingWhenAnUnreadableClusterHasNoUID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	at := func(uid string) cloudapi.Cluster {
		return cloudapi.Cluster{Metadata: cloudapi.ObjectMeta{Name: uid, UID: uid}, Status: &cloudapi.ClusterStatus{}}
	}
	_, err := inventory.NewSyncer(pool, staticAPI{[]cloudapi.Cluster{at("a"), at("b")}}, inventory.Config{}).Sync(ctx)
	require.NoError(t, err)

	anonymous := cloudapi.Cluster{Unreadable: "json: cannot unmarshal number into Go value of type cloudapi.plain"}
	r, err := inventory.NewSyncer(pool, staticAPI{[]cloudapi.Cluster{at("a"), anonymous}}, inventory.Config{}).Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, inventory.Result{Listed: 2, Unchanged: 1, Unreadable: 1}, r, "b may be the unreadable one")
	b, err := inventory.ClusterGet(ctx, pool, "b")
	require.NoError(t, err)
	require.False(t, b.Deleted())

	r, err = inventory.NewSyncer(pool, staticAPI{[]cloudapi.Cluster{at("a")}}, inventory.Config{}).Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, r.Deleted, "the control: b is deleted once the list is complete")
}
