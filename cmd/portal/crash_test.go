package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/worker"
)

// The portal process is killed with SIGKILL at the worst moments of a
// change (F9, F10): right after the approval commits, while the change's
// call is on its way, and after Cloud Manager made the change but before
// its answer arrived. A new process then finishes the change: the
// simulator's call log shows exactly one change made, the request
// succeeds, and the audit chain holds.
//
// The processes are the real binary (`portal serve`, web and worker), so
// the kill is a real one: open transactions roll back, connections drop,
// and River has to rescue the job the dead process was running
// (PORTAL_JOB_RESCUE_AFTER, 4 s here, plus River's leader election).
func TestChangeSurvivesAKilledProcess(t *testing.T) {
	bin := buildPortal(t)

	cases := []struct {
		name string
		// fault is injected into the simulator before the approval.
		fault *sim.Fault
		// killWhen reports when to kill the first process.
		killWhen func(t *testing.T, c *crashCase) bool
	}{{
		name:     "right after the approval commits",
		killWhen: func(*testing.T, *crashCase) bool { return true },
	}, {
		name:  "while the call is on its way",
		fault: &sim.Fault{Operation: cloudapi.OpUpdateCluster, Latency: time.Minute, Times: 1},
		killWhen: func(t *testing.T, c *crashCase) bool {
			// The call has reached the simulator, which holds it: the
			// fault (one call) is taken. The attempt row alone is not
			// enough: it is committed just before the call is sent.
			return len(c.sim.Faults()) == 0
		},
	}, {
		name:  "after the change was made, before its answer",
		fault: &sim.Fault{Operation: cloudapi.OpUpdateCluster, HoldAnswer: time.Minute, Times: 1},
		killWhen: func(t *testing.T, c *crashCase) bool {
			return c.mutations() == 1
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCrashCase(t, bin)
			first := c.start(t)
			c.waitForCluster(t)
			if tc.fault != nil {
				c.sim.InjectFault(*tc.fault)
			}
			c.fileAndApprove(t)
			require.Eventually(t, func() bool { return tc.killWhen(t, c) }, 30*time.Second, 5*time.Millisecond)
			first.kill(t)
			if tc.fault != nil {
				require.Empty(t, c.sim.Faults(), "the fault met the dead process's call")
			}

			c.start(t)
			require.Eventually(t, func() bool {
				r, err := approvals.Get(t.Context(), c.pool, c.request.ID)
				require.NoError(t, err)
				require.NotEqual(t, approvals.StateFailed, r.State)
				return r.State == approvals.StateSucceeded
			}, 90*time.Second, 50*time.Millisecond, "the new process finishes the change")
			require.Equal(t, 1, c.mutations(), "the change was made exactly once")

			result, err := audit.Verify(t.Context(), c.pool)
			require.NoError(t, err)
			require.True(t, result.OK, "the audit chain holds")
		})
	}
}

// buildPortal builds the portal binary into a temporary folder.
func buildPortal(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "portal")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run(), "build the portal binary")
	return bin
}

// crashCase is one database, one simulator and the portal processes that
// share them.
type crashCase struct {
	bin     string
	vars    map[string]string
	sim     *sim.Server
	pool    *pgxpool.Pool
	cluster inventory.Cluster
	request approvals.Request
}

func newCrashCase(t *testing.T, bin string) *crashCase {
	vars, s := testEnvSim(t)
	vars["PORTAL_JOB_RESCUE_AFTER"] = "4s"
	// Both below the rescue time, as serve requires: a call is given up
	// after 2 s, and a lost answer may still land for 2 s more.
	vars["PORTAL_CLOUD_TIMEOUT"] = "2s"
	vars["PORTAL_CLOUD_SETTLE_TIME"] = "2s"
	vars["PORTAL_INVENTORY_SYNC_INTERVAL"] = "1s"
	vars["PORTAL_LOG_FORMAT"] = "text"
	pool, err := pgxpool.New(t.Context(), vars["PORTAL_DATABASE_URL"])
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return &crashCase{bin: bin, vars: vars, sim: s, pool: pool}
}

// portalProcess is one `portal serve` of the real binary.
type portalProcess struct {
	cmd *exec.Cmd
	log string
}

// start runs `portal serve` (or `portal ARGS…`) and returns once it
// listens or its worker runs. The process's log is printed when the test
// fails.
func (c *crashCase) start(t *testing.T, args ...string) *portalProcess {
	t.Helper()
	p := &portalProcess{log: filepath.Join(t.TempDir(), "portal.log")}
	logFile, err := os.Create(p.log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = logFile.Close() })
	if len(args) == 0 {
		args = []string{"serve"}
	}
	p.cmd = exec.Command(c.bin, args...)
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range c.vars {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stderr = logFile
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		if t.Failed() {
			out, _ := os.ReadFile(p.log)
			t.Logf("log of portal process %d:\n%s", p.cmd.Process.Pid, out)
		}
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if line := lines.Text(); strings.HasPrefix(line, "portal: listening on ") || line == "portal: worker running" {
			go func() {
				for lines.Scan() {
				}
			}()
			return p
		}
	}
	t.Fatalf("portal exited before listening (log in %s)", p.log)
	return nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *portalProcess) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Kill())
	_ = p.cmd.Wait()
}

// waitForCluster waits for the worker's first sync to bring
// analytics-staging into the inventory.
func (c *crashCase) waitForCluster(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		list, err := inventory.ClusterByName(t.Context(), c.pool, "analytics-staging")
		require.NoError(t, err)
		if len(list) == 0 {
			return false
		}
		c.cluster = list[0]
		return true
	}, 30*time.Second, 20*time.Millisecond)
}

// fileAndApprove has alice ask for one more query server on the cluster
// and bob approve it, in this test's process: the approval inserts the
// submit job in its transaction (as a web-only replica would), and the
// portal process's worker takes it.
func (c *crashCase) fileAndApprove(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	service, alice, bob := c.service(t)

	raw, err := json.Marshal(c.cluster.Spec)
	require.NoError(t, err)
	var spec cloudapi.ClusterSpec
	require.NoError(t, json.Unmarshal(raw, &spec))
	more := *spec.Query.Replicas + 1
	spec.Query.Replicas = &more
	c.request, err = service.Create(ctx, alice, approvals.NewRequest{Kind: approvals.KindUpdate, ClusterUID: c.cluster.UID,
		Reason: "more query capacity", Spec: &spec, SeenResourceVersion: &c.cluster.ResourceVersion})
	require.NoError(t, err)
	out, err := service.Approve(ctx, bob, c.request.ID, approvals.Approve{
		Revision: c.request.Revision.Number, LiveResourceVersion: c.cluster.ResourceVersion})
	require.NoError(t, err)
	require.True(t, out.Completed)
}

// service is the request service of a web-only replica (the approval
// inserts the submit job in its transaction; the portal processes' workers
// take it), with alice, a developer, and bob, an approver.
func (c *crashCase) service(t *testing.T) (*approvals.Service, approvals.Actor, approvals.Actor) {
	t.Helper()
	enqueue, err := worker.Enqueuer(c.pool)
	require.NoError(t, err)
	user := func(name, groups string) approvals.Actor {
		var id int64
		require.NoError(t, c.pool.QueryRow(t.Context(), `INSERT INTO users (issuer, subject, username, name, groups, last_login_at)
			VALUES ('https://idp.test', $1, $1, $1, $2, now()) RETURNING id`, name, "{"+groups+"}").Scan(&id))
		return approvals.Actor{UserID: id, Name: name, Groups: []string{groups}, Approver: groups == "approvers", Origin: audit.Origin{IP: "192.0.2.9"}}
	}
	return approvals.New(c.pool, approvals.Config{OnApproved: enqueue}), user("alice", "developers"), user("bob", "approvers")
}

// mutations counts the changes made to the cluster (dry runs excluded).
func (c *crashCase) mutations() int {
	n := 0
	for _, call := range c.sim.Calls() {
		if call.Operation == cloudapi.OpUpdateCluster && call.Mutated && !strings.Contains(call.Path, "dryRun=true") {
			n++
		}
	}
	return n
}

// Two worker processes race on 200 approvals committed at once (F12): a
// restart of two servers on each of 100 clusters, so that the changes of
// one cluster also wait for each other. Every change is made exactly once,
// every request succeeds, and both processes took part.
func TestTwoWorkerProcessesRaceOn200Approvals(t *testing.T) {
	const clusters, approved = 100, 200
	c := newCrashCase(t, buildPortal(t))
	ctx := t.Context()
	api, err := cloudapi.New(cloudapi.Config{BaseURL: c.vars["PORTAL_CLOUD_API_URL"], TokenURL: c.vars["PORTAL_CLOUD_TOKEN_URL"],
		ClientID: c.vars["PORTAL_CLOUD_CLIENT_ID"], ClientSecret: c.vars["PORTAL_CLOUD_CLIENT_SECRET"]})
	require.NoError(t, err)
	for i := range clusters {
		_, err := api.CreateCluster(ctx, &cloudapi.Cluster{Metadata: cloudapi.ObjectMeta{Name: fmt.Sprintf("race-%03d-dev", i)}, Spec: raceSpec()})
		require.NoError(t, err)
	}
	c.start(t, "serve", "-worker")
	c.start(t, "serve", "-worker")
	var uids []string
	require.Eventually(t, func() bool {
		rows, err := c.pool.Query(ctx, `SELECT uid FROM clusters WHERE name LIKE 'race-%' AND state = 'STARTED' ORDER BY name`)
		require.NoError(t, err)
		uids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return len(uids) == clusters
	}, 60*time.Second, 50*time.Millisecond, "the workers' sync lists the started clusters")
	c.sim.ResetCalls()

	service, alice, bob := c.service(t)
	var requests []approvals.Request
	for i := range approved {
		cl, err := inventory.ClusterGet(ctx, c.pool, uids[i%clusters])
		require.NoError(t, err)
		r, err := service.Create(ctx, alice, approvals.NewRequest{Kind: approvals.KindRestartServer, ClusterUID: cl.UID,
			Reason: "rolling restart", InstanceID: cl.Status.Servers[i/clusters].InstanceID})
		require.NoError(t, err)
		requests = append(requests, r)
	}
	var wg sync.WaitGroup
	for _, r := range requests {
		wg.Go(func() {
			_, err := service.Approve(ctx, bob, r.ID, approvals.Approve{
				Revision: r.Revision.Number, LiveResourceVersion: r.Revision.BaseResourceVersion})
			assert.NoError(t, err)
		})
	}
	wg.Wait()

	require.Eventually(t, func() bool {
		var open int
		require.NoError(t, c.pool.QueryRow(ctx, `SELECT count(*) FROM change_requests WHERE state <> 'succeeded'`).Scan(&open))
		return open == 0
	}, 5*time.Minute, 200*time.Millisecond, "every request succeeds")
	restarted := map[string]int{}
	for _, call := range c.sim.Calls() {
		if call.Mutated {
			require.Equal(t, cloudapi.OpRestartServer, call.Operation)
			restarted[call.Path]++
		}
	}
	require.Len(t, restarted, approved)
	for path, n := range restarted {
		require.Equal(t, 1, n, "%s called %d times", path, n)
	}
	var workers int
	require.NoError(t, c.pool.QueryRow(ctx,
		`SELECT count(DISTINCT attempted_by[array_length(attempted_by, 1)]) FROM river_job WHERE kind = 'submit'`).Scan(&workers))
	require.Equal(t, 2, workers, "both processes submitted changes")
	result, err := audit.Verify(ctx, c.pool)
	require.NoError(t, err)
	require.True(t, result.OK)
}

// raceSpec is a small valid cluster: one server per tier.
func raceSpec() cloudapi.ClusterSpec {
	one := int32(1)
	return cloudapi.ClusterSpec{
		Version: "2024.01", AWSInstanceRole: "role",
		Master: &cloudapi.MasterConfig{Replicas: &one, InstanceType: "t3.small"},
		Query:  &cloudapi.QueryConfig{Replicas: &one, InstanceType: "t3.small"},
		Data:   &cloudapi.DataConfig{Tier1: &cloudapi.DataTier{Replicas: &one, InstanceType: "t3.small"}},
		Pivot:  &cloudapi.PivotAccess{AccessMode: cloudapi.AccessProxied}, DeepStorage: &cloudapi.DeepStorage{Path: "s3://bucket/race"},
	}
}
