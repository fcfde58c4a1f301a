package approvals_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// planCluster is a running cluster of 7 servers: 1 master, 2 query, 4 data
// in tier 1.
const planCluster = `{"version":"2024.01","awsTags":[{"name":"team","value":"a"}],
	"master":{"replicas":1,"instanceType":"m5.large"},"query":{"replicas":2,"instanceType":"c5.large"},
	"data":{"tier1":{"replicas":4,"instanceType":"i3.xlarge"}},"deepStorage":{"path":"s3://b/p"}}`

func planSpec(t *testing.T, doc string, edits ...string) *cloudapi.ClusterSpec {
	t.Helper()
	var s cloudapi.ClusterSpec
	require.NoError(t, json.Unmarshal([]byte(doc), &s))
	for _, e := range edits {
		if e == "" {
			continue
		}
		require.NoError(t, json.Unmarshal([]byte(e), &s))
	}
	return &s
}

func TestPlan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		kind     approvals.Kind
		base     string // edits of planCluster for the base
		proposed string // edits of planCluster; "-" for none (delete, restart)
		payload  approvals.Payload
		dryRun   bool // the dry run asks for a hard update
		headline string
		downtime bool
		effect   string // one of the effects says this
		add      int
		change   int
		remove   int
	}{
		{
			name: "one more query server is a rolling update without downtime", kind: approvals.KindUpdate,
			proposed: `{"query":{"replicas":3,"instanceType":"c5.large"}}`,
			headline: "Rolling update · adds 1 query server · no downtime", effect: "Cloud Manager adds 1 query server.", change: 1,
		},
		{
			name: "a new version as a hard update restarts every server at once", kind: approvals.KindUpdate,
			proposed: `{"version":"2024.02"}`, payload: approvals.Payload{HardUpdate: true},
			headline: "Hard update · all 7 servers restart · downtime", downtime: true, effect: "restart at once", change: 1,
		},
		{
			name: "a new version, rolling", kind: approvals.KindUpdate,
			proposed: `{"version":"2024.02","master":{"replicas":3,"instanceType":"m5.large"}}`,
			headline: "Rolling update · adds 2 master servers · all 7 servers restart · no downtime", effect: "one at a time", change: 2,
		},
		{
			name: "a new version, rolling, on a single master", kind: approvals.KindUpdate,
			proposed: `{"version":"2024.02"}`,
			headline: "Rolling update · all 7 servers restart · downtime", downtime: true, effect: "only one master server", change: 1,
		},
		{
			name: "the only query server restarting is downtime even rolling", kind: approvals.KindUpdate,
			base: `{"query":{"replicas":1,"instanceType":"c5.large"}}`, proposed: `{"query":{"replicas":1,"instanceType":"c5.xlarge"}}`,
			headline: "Rolling update · 1 query server restart · downtime", downtime: true, effect: "only one query server", change: 1,
		},
		{
			name: "fewer query servers while they restart", kind: approvals.KindUpdate,
			proposed: `{"query":{"replicas":1,"instanceType":"c5.xlarge"}}`,
			headline: "Rolling update · removes 1 query server · 1 query server restart · no downtime", change: 2,
		},
		{
			name: "a group's instance type restarts its servers only", kind: approvals.KindUpdate,
			proposed: `{"data":{"tier1":{"replicas":4,"instanceType":"i3.2xlarge"}}}`,
			headline: "Rolling update · 4 data servers (tier 1) restart · no downtime", change: 1,
		},
		{
			name: "a new tier adds its servers", kind: approvals.KindUpdate,
			proposed: `{"data":{"tier1":{"replicas":4,"instanceType":"i3.xlarge"},"tier2":{"replicas":2,"instanceType":"i3.xlarge"}}}`,
			headline: "Rolling update · adds 2 data servers (tier 2) · no downtime", add: 2,
		},
		{
			name: "a removed tier removes its servers", kind: approvals.KindUpdate,
			proposed: `{"data":{"tier1":{"replicas":2,"instanceType":"i3.xlarge"}}}`,
			headline: "Rolling update · removes 2 data servers (tier 1) · no downtime", change: 1,
		},
		{
			name: "tags restart nothing", kind: approvals.KindUpdate,
			proposed: `{"awsTags":[{"name":"team","value":"b"},{"name":"cost","value":"x"}]}`,
			headline: "Settings only · no server restarts · no downtime", add: 1, change: 1,
		},
		{
			name: "the dry run asks for a hard update", kind: approvals.KindUpdate,
			proposed: `{"version":"2024.02"}`, dryRun: true,
			headline: "Needs a hard update · all 7 servers restart · downtime", downtime: true, effect: "refuses this change as a rolling update", change: 1,
		},
		{
			name: "stop", kind: approvals.KindStop, proposed: `{"desiredState":"STOPPED"}`,
			headline: "Stops the cluster · 7 servers shut down · downtime", downtime: true, add: 1,
		},
		{
			name: "rollback with fewer servers", kind: approvals.KindRollback, proposed: `{"query":{"replicas":1,"instanceType":"c5.large"}}`,
			headline: "Rolling update · removes 1 query server · no downtime", change: 1,
		},
		{
			name: "delete", kind: approvals.KindDelete, proposed: "-",
			headline: "Deletes the cluster · 7 servers terminated · irreversible", downtime: true, effect: "cannot be undone",
		},
		{
			name: "restart of a query server", kind: approvals.KindRestartServer, proposed: "-",
			payload:  approvals.Payload{InstanceID: "i-0abc", Server: &approvals.ServerSeen{NodeType: "QUERY", InstanceType: "c5.large", PrivateIP: "10.0.1.5"}},
			headline: "Restarts server i-0abc (query, 10.0.1.5) · others keep serving", effect: "new instance id",
		},
		{
			name: "restart of the only master", kind: approvals.KindRestartServer, proposed: "-",
			payload:  approvals.Payload{InstanceID: "i-0m", Server: &approvals.ServerSeen{NodeType: "MASTER", PrivateIP: "10.0.1.2"}},
			headline: "Restarts server i-0m (master, 10.0.1.2) · the only master server · downtime", downtime: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := planSpec(t, planCluster, tc.base)
			in := approvals.PlanInput{Kind: tc.kind, ClusterName: "c", Base: base, Payload: tc.payload, NeedsHardUpdate: tc.dryRun}
			if tc.proposed != "-" {
				in.Proposed = planSpec(t, planCluster, tc.base, tc.proposed)
				d, err := approvals.DiffSpecs(in.Base, in.Proposed)
				require.NoError(t, err)
				in.Diff = d
			}
			p := approvals.NewPlan(in)
			require.Equal(t, tc.headline, p.Headline)
			require.Equal(t, tc.downtime, p.Downtime)
			require.Equal(t, []int{tc.add, tc.change, tc.remove}, []int{p.Add, p.Change, p.Remove}, "fields to add, change, remove")
			require.NotEmpty(t, p.Effects)
			if tc.effect != "" {
				require.Contains(t, joined(p.Effects), tc.effect)
			}
		})
	}
}

func TestPlanOfACreateAndAStart(t *testing.T) {
	t.Parallel()
	spec := planSpec(t, planCluster)
	d, err := approvals.DiffSpecs(nil, spec)
	require.NoError(t, err)
	p := approvals.NewPlan(approvals.PlanInput{Kind: approvals.KindCreate, ClusterName: "tour-new", Proposed: spec, Diff: d})
	require.Equal(t, "Creates cluster tour-new · 7 servers", p.Headline)
	require.Equal(t, []string{"Cloud Manager starts 1 master server, 2 query servers and 4 data servers (tier 1)."}, p.Effects)
	require.Equal(t, len(d), p.Add)
	require.Zero(t, p.Change+p.Remove)
	require.False(t, p.Downtime)

	stopped := planSpec(t, planCluster, `{"desiredState":"STOPPED"}`)
	started := planSpec(t, planCluster, `{"desiredState":"STARTED"}`)
	d, err = approvals.DiffSpecs(stopped, started)
	require.NoError(t, err)
	start := approvals.PlanOf(approvals.KindStart, "c", approvals.Revision{BaseSpec: stopped, ProposedSpec: started, Diff: d})
	require.Equal(t, "Starts the cluster · 7 servers start", start.Headline)
	require.Equal(t, 1, start.Change)

	// A stopped cluster's settings wait for its start.
	later := planSpec(t, planCluster, `{"desiredState":"STOPPED","version":"2024.02"}`)
	d, err = approvals.DiffSpecs(stopped, later)
	require.NoError(t, err)
	require.Equal(t, "Settings only · the cluster stays stopped · no server starts",
		approvals.PlanOf(approvals.KindUpdate, "c", approvals.Revision{BaseSpec: stopped, ProposedSpec: later, Diff: d}).Headline)
}

func joined(list []string) string {
	out := ""
	for _, s := range list {
		out += s + "\n"
	}
	return out
}
