package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// firstServer returns the instance id of the first server of cluster uid.
func (h *harness) firstServer(t *testing.T, uid string) string {
	t.Helper()
	h.settle(t, uid)
	status, _, body := h.do(t, "GET", "/api/v1/clusters/"+uid, "")
	require.Equal(t, http.StatusOK, status, body)
	var c cloudapi.Cluster
	require.NoError(t, json.Unmarshal([]byte(body), &c))
	require.NotEmpty(t, c.Status.Servers)
	return c.Status.Servers[0].InstanceID
}

func TestRestartRoutes(t *testing.T) {
	t.Parallel()
	const (
		canonical = "POST /clusters/%s/servers/%s/restart"
		postAlias = "POST /clusters/%s/servers/%s"
		delAlias  = "DELETE /clusters/%s/servers/%s"
		custom    = "PUT /clusters/%s/instances/%s/reboot"
	)
	for _, tc := range []struct {
		name    string
		cfg     Config
		served  []string
		refused []string
	}{
		{name: "default: only the documented route", served: []string{canonical}, refused: []string{postAlias, delAlias, custom}},
		{name: "aliases asked for", cfg: Config{RestartAliases: true}, served: []string{canonical, postAlias, delAlias}, refused: []string{custom}},
		{name: "another route", cfg: Config{RestartRoute: "PUT /clusters/{clusterId}/instances/{instanceId}/reboot"}, served: []string{custom}, refused: []string{canonical, postAlias, delAlias}},
		{name: "an alias as the route, with the aliases", cfg: Config{RestartRoute: "DELETE /clusters/{clusterId}/servers/{instanceId}", RestartAliases: true}, served: []string{delAlias, postAlias}, refused: []string{canonical}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.cfg)
			uid := h.create(t, minimalCluster)
			call := func(route string) (int, string) {
				method, path, _ := strings.Cut(fmt.Sprintf(route, uid, h.firstServer(t, uid)), " ")
				status, _, body := h.do(t, method, "/api/v1"+path, "")
				return status, body
			}
			for _, route := range tc.served {
				status, body := call(route)
				require.Equal(t, http.StatusNoContent, status, "%s: %s", route, body)
			}
			for _, route := range tc.refused {
				status, body := call(route)
				require.Equal(t, http.StatusNotFound, status, route)
				code, _ := errorCode(t, body)
				require.Equal(t, cloudapi.CodeNotFound, code, route)
			}
			restarts := 0
			for _, c := range h.sim.Calls() {
				if c.Operation == cloudapi.OpRestartServer {
					restarts++
					require.True(t, c.Mutated)
				}
			}
			require.Equal(t, len(tc.served), restarts, "refused spellings are not restarts")
		})
	}

	t.Run("invalid routes are refused at start", func(t *testing.T) {
		t.Parallel()
		for _, route := range []string{
			"/clusters/{clusterId}/servers/{instanceId}/restart",       // no method
			"FETCH /clusters/{clusterId}/servers/{instanceId}/restart", // unknown method
			"POST /clusters/{clusterId}/restart",                       // no instance
			"POST /clusters/{clusterId}/servers/{instanceId}:restart",  // not a whole segment
			"GET /clusters/{clusterId}/history/{instanceId}",           // the history route
			"POST clusters/{clusterId}/servers/{instanceId}/restart",   // relative
		} {
			_, err := New(Config{RestartRoute: route})
			require.Error(t, err, route)
		}
	})
}

// cluster reads cluster uid over the API.
func (h *harness) cluster(t *testing.T, uid string) cloudapi.Cluster {
	t.Helper()
	status, _, body := h.do(t, "GET", "/api/v1/clusters/"+uid, "")
	require.Equal(t, http.StatusOK, status, body)
	var c cloudapi.Cluster
	require.NoError(t, json.Unmarshal([]byte(body), &c))
	return c
}

// patch sends a merge patch to cluster uid.
func (h *harness) patch(t *testing.T, uid, query, patch string) (int, string) {
	t.Helper()
	status, _, body := h.do(t, "PATCH", "/api/v1/clusters/"+uid+query, patch, "Content-Type", "application/merge-patch+json")
	return status, body
}

func TestRunningStateName(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{RunningState: "RUNNING", HealthyStatus: "HEALTHY"})
	uid := h.create(t, minimalCluster)

	c := h.cluster(t, uid)
	require.Equal(t, cloudapi.ClusterState("RUNNING"), c.Status.State)
	require.Equal(t, cloudapi.HealthStatus("HEALTHY"), c.Status.Status)
	require.Equal(t, "Cluster is RUNNING", c.Status.Events[len(c.Status.Events)-1].Message)

	// The cluster counts as running: a change restarting the servers of a
	// cluster without three masters is refused without force.
	status, body := h.patch(t, uid, "", `{"spec":{"version":"2024.02"}}`)
	require.Equal(t, http.StatusBadRequest, status, body)

	status, body = h.patch(t, uid, "", `{"spec":{"desiredState":"STOPPED"}}`)
	require.Equal(t, http.StatusOK, status, body)
	h.settle(t, uid)
	require.Equal(t, cloudapi.StateStopped, h.cluster(t, uid).Status.State)

	status, body = h.patch(t, uid, "", `{"spec":{"desiredState":"STARTED"}}`)
	require.Equal(t, http.StatusOK, status, body, "desiredState keeps its documented values")
	h.settle(t, uid)
	c = h.cluster(t, uid)
	require.Equal(t, cloudapi.ClusterState("RUNNING"), c.Status.State)
	require.Equal(t, cloudapi.DesiredStarted, c.Spec.DesiredState)

	status, _, body = h.do(t, "POST", "/api/v1/clusters/"+uid+"/servers/"+h.firstServer(t, uid)+"/restart", "")
	require.Equal(t, http.StatusNoContent, status, body)
	h.settle(t, uid)
	require.Equal(t, cloudapi.ClusterState("RUNNING"), h.cluster(t, uid).Status.State, "a restart settles in the running state")

	_, err := New(Config{RunningState: cloudapi.StateUpdating})
	require.Error(t, err, "a busy state cannot be the running state")
}

func TestRunningStateNameInTheStateFile(t *testing.T) {
	t.Parallel()
	file := t.TempDir() + "/state.json"
	first, err := New(Config{StateFile: file, SeedDemo: true})
	require.NoError(t, err)
	require.NoError(t, first.Close())

	second, err := New(Config{StateFile: file, RunningState: "RUNNING"})
	require.NoError(t, err)
	defer second.Close()
	second.mu.Lock()
	defer second.mu.Unlock()
	states := map[cloudapi.ClusterState]int{}
	for _, c := range second.clusters {
		states[c.Status.State]++
	}
	require.Equal(t, map[cloudapi.ClusterState]int{"RUNNING": 2, cloudapi.StateStopped: 1}, states,
		"clusters saved as STARTED are loaded as RUNNING")
}

func TestFillDefaults(t *testing.T) {
	t.Parallel()
	// No encryptVolumes or desiredState, a metadata store without
	// backupRetention, a query group without instanceType.
	doc := strings.Replace(minimalCluster, `"query":{"replicas":1,"instanceType":"t3.small"}`,
		`"query":{"replicas":1},"metadataStore":{"instanceType":"db.t3.small","diskSize":20}`, 1)
	spec := func(t *testing.T, body string) map[string]any {
		t.Helper()
		var c struct {
			Spec map[string]any `json:"spec"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &c), body)
		return c.Spec
	}

	t.Run("off: the echo is what was sent", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, Config{})
		status, _, body := h.do(t, "POST", "/api/v1/clusters", doc)
		require.Equal(t, http.StatusOK, status, body)
		got := spec(t, body)
		require.NotContains(t, got, "encryptVolumes")
		require.NotContains(t, got, "desiredState")
		require.NotContains(t, got["query"], "instanceType")
		require.NotContains(t, got["metadataStore"], "backupRetention")
	})

	t.Run("on: the echo holds members the client did not send", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, Config{FillDefaults: true})
		check := func(got map[string]any) {
			t.Helper()
			require.Equal(t, false, got["encryptVolumes"])
			require.Equal(t, "STARTED", got["desiredState"])
			require.Equal(t, "t3.small", got["query"].(map[string]any)["instanceType"], "the master's")
			require.EqualValues(t, 7, got["metadataStore"].(map[string]any)["backupRetention"])
		}
		status, _, body := h.do(t, "POST", "/api/v1/clusters?dryRun=true", doc)
		require.Equal(t, http.StatusOK, status, body)
		check(spec(t, body))

		uid := h.create(t, doc)
		c := h.cluster(t, uid)
		check(spec(t, mustJSON(t, c)))

		// Sending the original document again changes nothing: the
		// defaults fill the same members.
		put := strings.Replace(doc, `"name":"m"}`, `"name":"m","uid":"`+uid+`"}`, 1)
		status, _, body = h.do(t, "PUT", "/api/v1/clusters/"+uid, put)
		require.Equal(t, http.StatusOK, status, body)
		require.Zero(t, h.cluster(t, uid).Status.ResourceVersion, "no new version")

		// Values sent are kept; a member a patch removes is filled again.
		status, body = h.patch(t, uid, "?force=true", `{"spec":{"encryptVolumes":true,"metadataStore":{"backupRetention":null}}}`)
		require.Equal(t, http.StatusOK, status, body)
		got := spec(t, body)
		require.Equal(t, true, got["encryptVolumes"])
		require.EqualValues(t, 7, got["metadataStore"].(map[string]any)["backupRetention"])
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestParseRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []Rule
	}{
		{"", nil},
		{" , ", nil},
		{"master-ha=off", []Rule{RuleMasterHA}},
		{"hard-update-needs-force=off, master-ha=off", []Rule{RuleMasterHA, RuleHardUpdateNeedsForce}},
		{"master-ha=off,master-ha=on", nil},
		{"all=off", Rules()},
		{"all=off,master-ha=on,s3-path-pattern=on", []Rule{RuleReplicasMin, RuleDiskSizeMin, RuleBackupRetention, RuleInstanceTypeFormat, RuleVersionNotEmpty, RuleRequiredSections, RuleHardUpdateNeedsForce, RuleNameNotEmpty}},
		{"all=on", nil},
	} {
		got, err := ParseRules(tc.in)
		require.NoError(t, err, tc.in)
		require.ElementsMatch(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"master-ha", "master-ha=no", "masterha=off", "documented=off", "=off"} {
		_, err := ParseRules(bad)
		require.Error(t, err, bad)
		require.ErrorContains(t, err, "hard-update-needs-force, all", "the message lists the known rules")
	}
	_, err := New(Config{DisabledRules: []Rule{"no-such-rule"}})
	require.ErrorContains(t, err, "no-such-rule")
}

// TestEachRuleSwitchable breaks each inferred rule over HTTP: refused by
// default, accepted once ParseRules has switched it off.
func TestEachRuleSwitchable(t *testing.T) {
	t.Parallel()
	breaks := map[Rule]string{ // merge patches on minimalCluster
		RuleNameNotEmpty:       `{"metadata":{"name":" "}}`,
		RuleS3PathPattern:      `{"spec":{"deepStorage":{"path":"s3:///no-bucket"}}}`,
		RuleReplicasMin:        `{"spec":{"query":{"replicas":0}}}`,
		RuleMasterHA:           `{"spec":{"master":{"replicas":2}}}`,
		RuleDiskSizeMin:        `{"spec":{"metadataStore":{"diskSize":10}}}`,
		RuleBackupRetention:    `{"spec":{"metadataStore":{"backupRetention":36}}}`,
		RuleInstanceTypeFormat: `{"spec":{"master":{"instanceType":"huge"}}}`,
		RuleVersionNotEmpty:    `{"spec":{"version":""}}`,
		RuleRequiredSections:   `{"spec":{"awsInstanceRole":null}}`,
		// Not a document rule: a change that restarts the servers of a
		// cluster without three masters.
		RuleHardUpdateNeedsForce: `{"spec":{"version":"2024.02"}}`,
	}
	require.Len(t, breaks, len(Rules()), "one case per rule")
	for _, rule := range Rules() {
		t.Run(string(rule), func(t *testing.T) {
			t.Parallel()
			disabled, err := ParseRules(string(rule) + "=off")
			require.NoError(t, err)
			for _, tc := range []struct {
				cfg  Config
				want int
			}{{Config{}, http.StatusBadRequest}, {Config{DisabledRules: disabled}, http.StatusOK}} {
				h := newHarness(t, tc.cfg)
				var status int
				var body string
				if rule == RuleHardUpdateNeedsForce {
					uid := h.create(t, minimalCluster)
					status, body = h.patch(t, uid, "", breaks[rule])
				} else {
					merged, err := cloudapi.ApplyMergePatch([]byte(minimalCluster), []byte(breaks[rule]))
					require.NoError(t, err)
					status, _, body = h.do(t, "POST", "/api/v1/clusters", string(merged))
				}
				require.Equal(t, tc.want, status, "disabled %v: %s", tc.cfg.DisabledRules, body)
			}
		})
	}
}
