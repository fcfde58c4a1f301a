package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
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
	bin := filepath.Join(t.TempDir(), "portal")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run(), "build the portal binary")

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
			// The attempt is recorded before the call is made.
			var n int
			require.NoError(t, c.pool.QueryRow(t.Context(),
				`SELECT count(*) FROM submission_attempts WHERE request_id = $1`, c.request.ID).Scan(&n))
			return n > 0
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

// start runs `portal serve` and returns once it listens. The process's
// log is printed when the test fails.
func (c *crashCase) start(t *testing.T) *portalProcess {
	t.Helper()
	p := &portalProcess{log: filepath.Join(t.TempDir(), "portal.log")}
	logFile, err := os.Create(p.log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = logFile.Close() })
	p.cmd = exec.Command(c.bin, "serve")
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
		if strings.HasPrefix(lines.Text(), "portal: listening on ") {
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
	enqueue, err := worker.Enqueuer(c.pool)
	require.NoError(t, err)
	service := approvals.New(c.pool, approvals.Config{OnApproved: enqueue})
	user := func(name, groups string) approvals.Actor {
		var id int64
		require.NoError(t, c.pool.QueryRow(ctx, `INSERT INTO users (issuer, subject, username, name, groups, last_login_at)
			VALUES ('https://idp.test', $1, $1, $1, $2, now()) RETURNING id`, name, "{"+groups+"}").Scan(&id))
		return approvals.Actor{UserID: id, Name: name, Groups: []string{groups}, Origin: audit.Origin{IP: "192.0.2.9"}}
	}
	alice, bob := user("alice", "developers"), user("bob", "approvers")

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
