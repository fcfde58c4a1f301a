package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

func TestPlanChange(t *testing.T) {
	t.Parallel()
	const ha = `{"spec":{"master":{"replicas":3},"query":{"replicas":2}}}`
	for _, tc := range []struct {
		name        string
		base, patch string // merge patches on minimalCluster
		force       bool
		disabled    []Rule
		kind        string
		stages      int
		final       cloudapi.ClusterState
		refusedAt   string
	}{
		{name: "stop", patch: `{"spec":{"desiredState":"STOPPED"}}`, kind: planHard, stages: 1, final: cloudapi.StateStopped},
		{name: "start", base: `{"spec":{"desiredState":"STOPPED"}}`, patch: `{"spec":{"desiredState":"STARTED"}}`, kind: planHard, stages: 1, final: cloudapi.StateStarted},
		{name: "tags only", patch: `{"spec":{"awsTags":[{"name":"a","value":"b"}]}}`, kind: planHard, stages: 1, final: cloudapi.StateStarted},
		{name: "scale up adds one server per stage", patch: `{"spec":{"data":{"tier1":{"replicas":3}}}}`, kind: planRolling, stages: 2, final: cloudapi.StateStarted},
		{name: "scale down", base: ha, patch: `{"spec":{"query":{"replicas":1}}}`, kind: planRolling, stages: 1, final: cloudapi.StateStarted},
		{name: "rolling restart of an HA cluster", base: ha, patch: `{"spec":{"version":"2024.02"}}`, kind: planRolling, stages: 6, final: cloudapi.StateStarted},
		{name: "forced", base: ha, patch: `{"spec":{"version":"2024.02"}}`, force: true, kind: planHard, stages: 1, final: cloudapi.StateStarted},
		{name: "restart without HA is refused", patch: `{"spec":{"query":{"instanceType":"c5.large"}}}`, refusedAt: "spec.query"},
		{name: "shared settings name the spec", patch: `{"spec":{"version":"2024.02"}}`, refusedAt: "spec"},
		{name: "refusal switched off", patch: `{"spec":{"version":"2024.02"}}`, disabled: []Rule{RuleHardUpdateNeedsForce}, kind: planRolling, stages: 3, final: cloudapi.StateStarted},
		{name: "pivot restarts query servers", base: ha, patch: `{"spec":{"pivot":{"accessMode":"NATIVE"}}}`, kind: planRolling, stages: 2, final: cloudapi.StateStarted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Config{DisabledRules: tc.disabled})
			s.mu.Lock()
			defer s.mu.Unlock()
			base := patched(t, minimalCluster, or(tc.base, `{}`))
			c := s.createCluster(base)
			s.finishNow(c)
			next := patched(t, string(c.Doc), tc.patch)

			p, detail := s.planChange(c, c.spec(), next["spec"].(map[string]any), tc.force)
			if tc.refusedAt != "" {
				require.NotNil(t, detail)
				require.Equal(t, tc.refusedAt, detail.Target)
				return
			}
			require.Nil(t, detail)
			require.Equal(t, tc.kind, p.Kind)
			require.Len(t, p.Stages, tc.stages)
			require.Equal(t, tc.final, p.Final)
		})
	}
}

func TestStagesChangeServers(t *testing.T) {
	t.Parallel()
	s := newServer(t, Config{})
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.createCluster(patched(t, minimalCluster, `{}`))
	require.Empty(t, c.Servers, "provisioning")
	s.finishNow(c)
	require.Len(t, c.Servers, 3)
	master := c.Servers[0].Machine

	next := patched(t, string(c.Doc), `{"spec":{"master":{"instanceType":"m5.large"},"query":{"replicas":2}}}`)
	p, detail := s.planChange(c, c.spec(), next["spec"].(map[string]any), true)
	require.Nil(t, detail)
	s.commit(c, encodeDocument(next), p)
	require.Equal(t, cloudapi.StateUpdating, c.Status.State)
	require.Equal(t, "REPLACING", c.Servers[0].Machine.State)
	s.finishNow(c)

	require.Equal(t, cloudapi.StateStarted, c.Status.State)
	require.Len(t, c.Servers, 4)
	require.Equal(t, "m5.large", c.Servers[0].Machine.InstanceType)
	require.NotEqual(t, master.InstanceID, c.Servers[0].Machine.InstanceID)
	require.NotEqual(t, master.PrivateIP, c.Servers[0].Machine.PrivateIP)
	require.Equal(t, []group{groupMaster, groupQuery, groupQuery, groupTier1}, []group{c.Servers[0].Group, c.Servers[1].Group, c.Servers[2].Group, c.Servers[3].Group})
	last := c.Status.Events[len(c.Status.Events)-1]
	require.Equal(t, "Cluster is STARTED", last.Message)
	require.Equal(t, cloudapi.EventInfo, last.Level)
	require.Equal(t, cloudapi.EventSourceManager, last.Source)
}

func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
