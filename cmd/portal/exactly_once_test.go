package main

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/metrics"
)

// Every approved change takes effect exactly once, with serve's own
// wiring: the worker started by startWorker from the configuration, its
// Cloud Manager client built by execution.NewClient, against the simulator
// over real HTTP. The simulator's call log is the oracle: the calls that
// changed something (sim.Call.Mutated), whatever the portal saw.

// Timings for an answer dropped at once (sim.Fault.ApplyThenDrop): short,
// and the settle time as short as serve allows (the client's timeout).
var lostAnswerTimings = map[string]string{
	"PORTAL_CLOUD_TIMEOUT":     "1s",
	"PORTAL_CLOUD_SETTLE_TIME": "1s",
	"PORTAL_JOB_RESCUE_AFTER":  "5s",
	"PORTAL_TRACK_INTERVAL":    "20ms",
}

// A call that lands late (sim.Fault.LateLanding): the client gives up
// after 500 ms and the call takes effect landingDelay after it arrived.
// The worker reads the cluster again about 2 s after a lost answer (the
// first retry's backoff), before the landing: it must look again rather
// than send again, until the landing shows. The settle time is above the
// landing delay, as it must be; one below it is the unsafe configuration
// the settle time exists to rule out, and is not tested.
const (
	landingDelay  = 4 * time.Second
	landingSettle = 6 * time.Second
)

var lateLandingTimings = map[string]string{
	"PORTAL_CLOUD_TIMEOUT":     "500ms",
	"PORTAL_CLOUD_SETTLE_TIME": landingSettle.String(),
	"PORTAL_JOB_RESCUE_AFTER":  "5s",
	"PORTAL_TRACK_INTERVAL":    "20ms",
}

// onceStack is approvalStack with the worker started as serve starts it,
// the approvals service wired to it, the web's client (to read the
// simulator as a person would), a requester and approvers.
type onceStack struct {
	pool      *pgxpool.Pool
	syncer    *inventory.Syncer
	sim       *sim.Server
	cloud     *cloudapi.Client
	service   *approvals.Service
	alice     approvals.Actor
	approvers []approvals.Actor
}

func newOnceStack(t *testing.T, timings map[string]string) *onceStack {
	t.Helper()
	env := map[string]string{
		// CheckServe wants a sign-in provider; nothing here signs in.
		"PORTAL_OIDC_ISSUER":    "https://idp.test",
		"PORTAL_OIDC_CLIENT_ID": "portal",
	}
	for k, v := range timings {
		env[k] = v
	}
	pool, cfg, syncer, s := approvalStackWith(t, env)
	require.NoError(t, cfg.CheckServe(), "timings serve accepts")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	jobs, err := startWorker(t.Context(), pool, syncer, cfg, logger, metrics.New(pool, metrics.Options{}))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, jobs.Stop(ctx))
	})
	service, err := approvalsService(pool, jobs)
	require.NoError(t, err)
	cloud, err := newCloudClient(cfg, logger, nil)
	require.NoError(t, err)
	st := &onceStack{pool: pool, syncer: syncer, sim: s, cloud: cloud, service: service}
	st.alice = st.person(t, "alice", "developers")
	for _, name := range []string{"bob", "carol", "dave"} {
		st.approvers = append(st.approvers, st.person(t, name, "approvers"))
	}
	return st
}

func (st *onceStack) person(t *testing.T, name, group string) approvals.Actor {
	t.Helper()
	var id int64
	require.NoError(t, st.pool.QueryRow(t.Context(), `INSERT INTO users (issuer, subject, username, name, groups, last_login_at)
		VALUES ('https://idp.test', $1, $1, $1, $2, now()) RETURNING id`, name, []string{group}).Scan(&id))
	return approvals.Actor{UserID: id, Name: name, Groups: []string{group}, Approver: group == "approvers"}
}

// uid is the uid of the demo cluster name.
func (st *onceStack) uid(t *testing.T, name string) string {
	t.Helper()
	list, err := inventory.ClusterByName(t.Context(), st.pool, name)
	require.NoError(t, err)
	require.Len(t, list, 1)
	return list[0].UID
}

// fresh is cluster uid as the API has it now, refreshed in the inventory
// (a request is filed on the inventory's version).
func (st *onceStack) fresh(t *testing.T, uid string) inventory.Cluster {
	t.Helper()
	c, err := st.syncer.Refresh(t.Context(), uid)
	require.NoError(t, err)
	return c
}

// approve has the approvers approve r, at the live resource version, one
// after another until its policy is met.
func (st *onceStack) approve(t *testing.T, r approvals.Request) {
	t.Helper()
	var rv int64
	if r.ClusterUID != "" {
		live, err := st.cloud.GetCluster(t.Context(), r.ClusterUID)
		require.NoError(t, err)
		rv = live.Status.ResourceVersion
	}
	for _, a := range st.approvers {
		out, err := st.service.Approve(t.Context(), a, r.ID, approvals.Approve{Revision: r.Revision.Number, LiveResourceVersion: rv})
		require.NoError(t, err)
		if out.Completed {
			return
		}
	}
	t.Fatalf("request %d still needs approvals", r.ID)
}

// wait waits until request id has ended (or gone stale) and returns it.
func (st *onceStack) wait(t *testing.T, id int64) approvals.Request {
	t.Helper()
	var r approvals.Request
	require.Eventually(t, func() bool {
		var err error
		r, err = approvals.Get(t.Context(), st.pool, id)
		require.NoError(t, err)
		return r.State.Terminal() || r.State == approvals.StateStale
	}, 40*time.Second, 20*time.Millisecond, "request %d never ended", id)
	return r
}

// submission is the execution record of r's approved revision.
func (st *onceStack) submission(t *testing.T, r approvals.Request) execution.Submission {
	t.Helper()
	sub, err := execution.SubmissionGet(t.Context(), st.pool, r.ID, r.Revision.Number)
	require.NoError(t, err)
	return sub
}

// effects are the simulator's calls of op that changed something, on
// cluster uid (any cluster when uid is empty), in the order they took
// effect.
func (st *onceStack) effects(op cloudapi.Operation, uid string) []sim.Call {
	var out []sim.Call
	for _, c := range st.sim.Calls() {
		if c.Mutated && c.Operation == op && (uid == "" || c.ClusterID == uid) {
			out = append(out, c)
		}
	}
	return out
}

// named lists the simulator's clusters called name.
func (st *onceStack) named(t *testing.T, name string) []cloudapi.Cluster {
	t.Helper()
	all, err := st.cloud.ListClusters(t.Context())
	require.NoError(t, err)
	var out []cloudapi.Cluster
	for _, c := range all {
		if c.Metadata.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// events are the audit entries about request id, oldest first.
func (st *onceStack) events(t *testing.T, id int64) []audit.Entry {
	t.Helper()
	page, err := audit.List(t.Context(), st.pool,
		audit.Filter{SubjectType: audit.SubjectRequest, SubjectID: strconv.FormatInt(id, 10)},
		audit.PageRequest{Oldest: true, Limit: 100})
	require.NoError(t, err)
	entries := page.Entries
	slices.SortFunc(entries, func(a, b audit.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	return entries
}

func actionsOf(entries []audit.Entry) []audit.Action {
	out := make([]audit.Action, len(entries))
	for i, e := range entries {
		out[i] = e.Action
	}
	return out
}

// scaleTo files alice's update of cluster uid's tier-1 data servers to n.
func (st *onceStack) scaleTo(t *testing.T, uid string, n int32) approvals.Request {
	t.Helper()
	c := st.fresh(t, uid)
	spec := copySpec(t, c.Spec)
	spec.Data.Tier1.Replicas = &n
	r, err := st.service.Create(t.Context(), st.alice, approvals.NewRequest{
		Kind: approvals.KindUpdate, ClusterUID: uid, Reason: "tier 1 to " + strconv.Itoa(int(n)),
		Spec: &spec, SeenResourceVersion: &c.ResourceVersion,
	})
	require.NoError(t, err)
	return r
}

// copySpec is a deep copy of spec.
func copySpec(t *testing.T, spec cloudapi.ClusterSpec) cloudapi.ClusterSpec {
	t.Helper()
	raw, err := json.Marshal(spec)
	require.NoError(t, err)
	var out cloudapi.ClusterSpec
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

func tier1(c *cloudapi.Cluster) int32 { return *c.Spec.Data.Tier1.Replicas }

// onceKind is one kind of change as these tests file it: the demo cluster
// it changes (none for a create), the call that sends it, and what the
// cluster shows once the request has succeeded.
type onceKind struct {
	name    string
	cluster string
	op      cloudapi.Operation
	file    func(t *testing.T, st *onceStack, uid string) approvals.Request
	check   func(t *testing.T, st *onceStack, r approvals.Request)
}

// createdName is the name of the cluster the create requests make.
const createdName = "newcube-dev"

func onceKinds() []onceKind {
	return []onceKind{
		{
			name: "update (PATCH)", cluster: "analytics-staging", op: cloudapi.OpUpdateCluster,
			file: func(t *testing.T, st *onceStack, uid string) approvals.Request {
				return st.scaleTo(t, uid, *st.fresh(t, uid).Spec.Data.Tier1.Replicas+1)
			},
			check: func(t *testing.T, st *onceStack, r approvals.Request) {
				live, err := st.cloud.GetCluster(t.Context(), r.ClusterUID)
				require.NoError(t, err)
				require.Equal(t, *r.Revision.ProposedSpec.Data.Tier1.Replicas, tier1(live))
			},
		},
		{
			name: "rollback (PUT)", cluster: "analytics-prod", op: cloudapi.OpReplaceCluster,
			file: func(t *testing.T, st *onceStack, uid string) approvals.Request {
				// The demo's analytics-prod went from 3 to 4 tier-1 servers
				// in its last version: back to the one before.
				before := st.fresh(t, uid).ResourceVersion - 1
				_, err := st.syncer.Version(t.Context(), uid, before)
				require.NoError(t, err)
				r, err := st.service.Create(t.Context(), st.alice, approvals.NewRequest{
					Kind: approvals.KindRollback, ClusterUID: uid, Reason: "back to three", RollbackTo: &before,
				})
				require.NoError(t, err)
				return r
			},
			check: func(t *testing.T, st *onceStack, r approvals.Request) {
				live, err := st.cloud.GetCluster(t.Context(), r.ClusterUID)
				require.NoError(t, err)
				require.Equal(t, int32(3), tier1(live))
			},
		},
		{
			name: "delete (DELETE)", cluster: "clickstream-dev", op: cloudapi.OpDeleteCluster,
			file: func(t *testing.T, st *onceStack, uid string) approvals.Request {
				r, err := st.service.Create(t.Context(), st.alice, approvals.NewRequest{
					Kind: approvals.KindDelete, ClusterUID: uid, Reason: "no longer used",
				})
				require.NoError(t, err)
				return r
			},
			check: func(t *testing.T, st *onceStack, r approvals.Request) {
				_, err := st.cloud.GetCluster(t.Context(), r.ClusterUID)
				require.True(t, cloudapi.IsNotFound(err), "the cluster is gone: %v", err)
			},
		},
		{
			name: "create (POST)", op: cloudapi.OpCreateCluster,
			file: func(t *testing.T, st *onceStack, _ string) approvals.Request {
				r, err := st.service.Create(t.Context(), st.alice, approvals.NewRequest{
					Kind: approvals.KindCreate, Name: createdName, Reason: "a cube for the new team", Spec: newClusterSpec(),
				})
				require.NoError(t, err)
				return r
			},
			check: func(t *testing.T, st *onceStack, r approvals.Request) {
				found := st.named(t, createdName)
				require.Len(t, found, 1)
				require.Equal(t, found[0].Metadata.UID, r.ClusterUID, "the request names the cluster it made")
				require.Equal(t, cloudapi.StateStarted, found[0].Status.State)
			},
		},
		{
			name: "restart server (POST …/restart)", cluster: "analytics-staging", op: cloudapi.OpRestartServer,
			file: func(t *testing.T, st *onceStack, uid string) approvals.Request {
				r, err := st.service.Create(t.Context(), st.alice, approvals.NewRequest{
					Kind: approvals.KindRestartServer, ClusterUID: uid, Reason: "stuck broker",
					InstanceID: st.fresh(t, uid).Status.Servers[0].InstanceID,
				})
				require.NoError(t, err)
				return r
			},
			check: func(t *testing.T, st *onceStack, r approvals.Request) {
				live, err := st.cloud.GetCluster(t.Context(), r.ClusterUID)
				require.NoError(t, err)
				for _, s := range live.Status.Servers {
					require.NotEqual(t, r.Revision.Payload.InstanceID, s.InstanceID, "the server was replaced")
				}
			},
		},
	}
}

// newClusterSpec is a valid spec for a small development cluster.
func newClusterSpec() *cloudapi.ClusterSpec {
	one := int32(1)
	return &cloudapi.ClusterSpec{
		Version: "2024.01", AWSInstanceRole: "imply-dev-instance",
		Master:      &cloudapi.MasterConfig{Replicas: &one, InstanceType: "t3.medium"},
		Query:       &cloudapi.QueryConfig{Replicas: &one, InstanceType: "t3.medium"},
		Data:        &cloudapi.DataConfig{Tier1: &cloudapi.DataTier{Replicas: &one, InstanceType: "t3.medium"}},
		DeepStorage: &cloudapi.DeepStorage{Path: "s3://acme-druid-dev/newcube"},
	}
}

// realCalls restricts a fault to calls that change something (no dry runs).
func realCalls() *bool { v := false; return &v }

// Each kind of change whose real call is applied and then loses its
// answer (the connection dropped) is applied once and ends succeeded: the
// next attempt reads the cluster, finds the change (a delete: the cluster
// gone) and tracks it instead of sending it again. A delete in particular
// does not end failed.
func TestExactlyOnceWhenTheAnswerIsLost(t *testing.T) {
	t.Parallel()
	for _, k := range onceKinds() {
		name := k.name
		if k.op == cloudapi.OpDeleteCluster {
			name += " ends succeeded, not failed"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := newOnceStack(t, lostAnswerTimings)
			var uid string
			if k.cluster != "" {
				uid = st.uid(t, k.cluster)
			}
			r := k.file(t, st, uid)
			st.sim.InjectFault(sim.Fault{Operation: k.op, DryRun: realCalls(), ClusterID: uid, ApplyThenDrop: true, Times: 1})
			st.approve(t, r)

			done := st.wait(t, r.ID)
			require.Equal(t, approvals.StateSucceeded, done.State, "reason: %s", st.submission(t, done).Reason)
			effects := st.effects(k.op, uid)
			require.Len(t, effects, 1, "exactly one effect")
			require.Zero(t, effects[0].Status, "its answer was lost")
			require.Contains(t, effects[0].Fault, "apply then drop")

			entries := st.events(t, r.ID)
			actions := actionsOf(entries)
			require.NotContains(t, actions, audit.SubmissionFailed)
			require.Equal(t, audit.SubmissionApplied, actions[len(actions)-1])
			if k.op == cloudapi.OpDeleteCluster {
				// Either the next read found the cluster gone, or the
				// delete was sent again and its 404 means done.
				require.True(t, reconciled(actions) || goneOn404(t, entries),
					"a delete whose answer was lost is reconciled or done on 404: %v", actions)
			} else {
				require.True(t, reconciled(actions), "found applied, not sent again: %v", actions)
				attempts, err := execution.AttemptList(t.Context(), st.pool, r.ID, r.Revision.Number)
				require.NoError(t, err)
				require.Len(t, attempts, 1, "sent once")
				require.Equal(t, execution.OutcomeUnknown, attempts[0].Outcome)
			}
			k.check(t, st, done)
		})
	}
}

// reconciled reports whether the audit log says the change was found
// applied after an answer was lost.
func reconciled(actions []audit.Action) bool {
	n := 0
	for _, a := range actions {
		if a == audit.SubmissionReconciled {
			n++
		}
	}
	return n == 1
}

// goneOn404 reports whether a delete was accepted because the cluster was
// already gone (a 404 answer).
func goneOn404(t *testing.T, entries []audit.Entry) bool {
	t.Helper()
	for _, e := range entries {
		if e.Action != audit.SubmissionSucceeded {
			continue
		}
		var data struct {
			Found string `json:"found"`
		}
		require.NoError(t, json.Unmarshal(e.Data, &data))
		return strings.Contains(data.Found, "404")
	}
	return false
}

// Each kind of change whose real call lands after the client gave up on
// it (a gateway that does not pass on the disconnect) is applied once:
// the worker reads the cluster before the landing, does not take the
// change for lost before the settle time has passed, and finds it when it
// lands. A create finds its cluster, or at worst stops for a person;
// there is never a second cluster.
func TestExactlyOnceWhenACallLandsLate(t *testing.T) {
	t.Parallel()
	for _, k := range onceKinds() {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			st := newOnceStack(t, lateLandingTimings)
			var uid string
			if k.cluster != "" {
				uid = st.uid(t, k.cluster)
			}
			r := k.file(t, st, uid)
			st.sim.InjectFault(sim.Fault{Operation: k.op, DryRun: realCalls(), ClusterID: uid, LateLanding: landingDelay, Times: 1})
			st.approve(t, r)

			done := st.wait(t, r.ID)
			effects := st.effects(k.op, uid)
			require.Len(t, effects, 1, "exactly one effect")
			require.Zero(t, effects[0].Status, "the client had gone when it landed")
			require.GreaterOrEqual(t, effects[0].AppliedAt.Sub(effects[0].Time), landingDelay, "it landed late")
			attempts, err := execution.AttemptList(t.Context(), st.pool, r.ID, r.Revision.Number)
			require.NoError(t, err)
			require.Len(t, attempts, 1, "nothing sent again")
			require.Equal(t, execution.OutcomeUnknown, attempts[0].Outcome)

			sub := st.submission(t, done)
			if k.op == cloudapi.OpCreateCluster {
				require.Len(t, st.named(t, createdName), 1, "never a second cluster")
				if done.State == approvals.StateFailed {
					require.True(t, sub.NeedsPerson, sub.Reason)
					require.Contains(t, sub.Reason, "outcome unknown — needs a person")
					return
				}
			}
			require.Equal(t, approvals.StateSucceeded, done.State, "reason: %s", sub.Reason)
			require.True(t, reconciled(actionsOf(st.events(t, r.ID))), "found applied, not sent again")
			k.check(t, st, done)
		})
	}
}

// A change filed right after an earlier one of the same cluster ended is
// never reverted by the earlier one's late landing: the earlier request
// ends only once its change has landed, so the later one is filed on the
// version it made, is not made stale by it, and stays applied.
func TestExactlyOnceLateLandingNeverRevertsALaterChange(t *testing.T) {
	t.Parallel()
	st := newOnceStack(t, lateLandingTimings)
	uid := st.uid(t, "analytics-staging")
	n := *st.fresh(t, uid).Spec.Data.Tier1.Replicas

	first := st.scaleTo(t, uid, n+1)
	st.sim.InjectFault(sim.Fault{Operation: cloudapi.OpUpdateCluster, DryRun: realCalls(), ClusterID: uid, LateLanding: landingDelay, Times: 1})
	st.approve(t, first)
	require.Equal(t, approvals.StateSucceeded, st.wait(t, first.ID).State)

	second := st.scaleTo(t, uid, n+2)
	st.approve(t, second)
	got := st.wait(t, second.ID)
	require.Equal(t, approvals.StateSucceeded, got.State, "the later change did not go stale: %s", st.submission(t, got).Reason)

	require.Empty(t, st.sim.Faults(), "the late call arrived")
	effects := st.effects(cloudapi.OpUpdateCluster, uid)
	require.Len(t, effects, 2, "each change once")
	firstPatch, err := first.Revision.Patch()
	require.NoError(t, err)
	secondPatch, err := second.Revision.Patch()
	require.NoError(t, err)
	require.JSONEq(t, string(firstPatch), effects[0].Body)
	require.False(t, effects[0].AppliedAt.IsZero(), "the first landed late")
	require.JSONEq(t, string(secondPatch), effects[1].Body)
	require.True(t, effects[0].AppliedAt.Before(effects[1].Time), "the first landed before the second was sent")

	live, err := st.cloud.GetCluster(t.Context(), uid)
	require.NoError(t, err)
	require.Equal(t, n+2, tier1(live), "the later change stays applied")
}

// Timings for a read that straddles the settle time: a restart lands
// 5.5 s after it arrived, 0.3 s before the settle time ends, and the first
// read of the cluster after the lost answer, taken 4 to 5 s after the call
// (the first retry's 2 s backoff after the 2 s client timeout, and up to
// 1 s until the worker polls), is answered 1.8 s after the simulator took
// it (sim.Fault.HoldAnswer, within the client timeout): after the settle
// time.
const (
	straddleHold    = 1800 * time.Millisecond
	straddleLanding = 5500 * time.Millisecond
	straddleSettle  = 5800 * time.Millisecond
)

var straddleTimings = map[string]string{
	"PORTAL_CLOUD_TIMEOUT":     "2s",
	"PORTAL_CLOUD_SETTLE_TIME": straddleSettle.String(),
	"PORTAL_JOB_RESCUE_AFTER":  "10s",
	"PORTAL_TRACK_INTERVAL":    "20ms",
}

// A read of the cluster begun before a late landing but answered after
// the settle time does not prove that the change was never applied: the
// worker reads again rather than send the restart a second time (which
// the replaced server would answer with 404, failing a request whose
// restart happened).
func TestExactlyOnceWhenAReadStraddlesTheSettleTime(t *testing.T) {
	t.Parallel()
	st := newOnceStack(t, straddleTimings)
	uid := st.uid(t, "analytics-staging")
	r, err := st.service.Create(t.Context(), st.alice, approvals.NewRequest{
		Kind: approvals.KindRestartServer, ClusterUID: uid, Reason: "stuck broker",
		InstanceID: st.fresh(t, uid).Status.Servers[0].InstanceID,
	})
	require.NoError(t, err)
	st.sim.InjectFault(sim.Fault{Operation: cloudapi.OpRestartServer, DryRun: realCalls(), ClusterID: uid, LateLanding: straddleLanding, Times: 1})
	st.approve(t, r)
	require.Eventually(t, func() bool {
		attempts, err := execution.AttemptList(t.Context(), st.pool, r.ID, r.Revision.Number)
		require.NoError(t, err)
		return len(attempts) == 1
	}, 10*time.Second, 10*time.Millisecond, "the restart is sent")
	// The next read of the cluster is the worker's first after the call.
	st.sim.InjectFault(sim.Fault{Operation: cloudapi.OpGetCluster, ClusterID: uid, HoldAnswer: straddleHold, Times: 1})

	done := st.wait(t, r.ID)
	require.Equal(t, approvals.StateSucceeded, done.State, "reason: %s", st.submission(t, done).Reason)
	effects := st.effects(cloudapi.OpRestartServer, uid)
	require.Len(t, effects, 1, "exactly one effect")
	require.False(t, effects[0].AppliedAt.IsZero(), "it landed late")
	attempts, err := execution.AttemptList(t.Context(), st.pool, r.ID, r.Revision.Number)
	require.NoError(t, err)
	require.Len(t, attempts, 1, "nothing sent again")
	require.True(t, reconciled(actionsOf(st.events(t, r.ID))), "found applied")
}
