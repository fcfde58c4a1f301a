package execution

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// judge is verdict in words, for the table.
func (e *Executor) judge(r approvals.Request, sub Submission, c inventory.Cluster, gone bool) string {
	k, err := kindOf(r)
	if err != nil {
		return err.Error()
	}
	done, failure := e.verdict(r, sub, k, c, gone)
	switch {
	case done:
		return "done"
	case failure != "":
		return "never"
	}
	return "not yet"
}

func TestVerdict(t *testing.T) {
	t.Parallel()
	e := &Executor{opts: Options{Behaviour: cloudapi.DefaultBehaviour()}}
	base := approvals.Revision{Number: 1, HasBase: true, BaseResourceVersion: 4, Payload: approvals.Payload{InstanceID: "i-old"}}
	cluster := func(state cloudapi.ClusterState, rv int64, health cloudapi.HealthStatus, servers ...string) inventory.Cluster {
		c := inventory.Cluster{UID: "u", State: state, ResourceVersion: rv}
		c.Status.State, c.Status.Status, c.Status.ResourceVersion = state, health, rv
		for _, s := range servers {
			c.Status.Servers = append(c.Status.Servers, cloudapi.Server{InstanceID: s})
		}
		return c
	}
	updating := func(c inventory.Cluster) inventory.Cluster {
		c.Status.UpdateState = &cloudapi.UpdateState{TotalStages: 3, CurrentStage: 2}
		return c
	}
	sub := Submission{TargetResourceVersion: 5}
	cases := []struct {
		name string
		kind approvals.Kind
		c    inventory.Cluster
		gone bool
		want string
	}{
		{"create still pending", approvals.KindCreate, cluster(cloudapi.StatePending, 0, "OK"), false, "not yet"},
		{"create started", approvals.KindCreate, cluster(cloudapi.StateStarted, 0, "OK"), false, "done"},
		{"stop updating", approvals.KindStop, cluster(cloudapi.StateUpdating, 5, "OK"), false, "not yet"},
		{"stop stopped", approvals.KindStop, cluster(cloudapi.StateStopped, 5, "OK"), false, "done"},
		{"start started", approvals.KindStart, cluster(cloudapi.StateStarted, 5, ""), false, "done"},
		{"update at the new version", approvals.KindUpdate, cluster(cloudapi.StateStarted, 5, "OK"), false, "done"},
		{"update not yet visible", approvals.KindUpdate, cluster(cloudapi.StateStarted, 4, "OK"), false, "not yet"},
		{"update settled unhealthy", approvals.KindUpdate, cluster(cloudapi.StateStarted, 5, "ERROR"), false, "never"},
		{"restart replaced the server", approvals.KindRestartServer, cluster(cloudapi.StateStarted, 4, "OK", "i-new"), false, "done"},
		{"restart not yet", approvals.KindRestartServer, cluster(cloudapi.StateStarted, 4, "OK", "i-old"), false, "not yet"},
		{"delete still there", approvals.KindDelete, cluster(cloudapi.StateStarted, 4, "OK"), false, "not yet"},
		{"delete gone", approvals.KindDelete, inventory.Cluster{}, true, "done"},
		{"update but gone", approvals.KindUpdate, inventory.Cluster{}, true, "never"},
		{"create running, as a tenant may name it", approvals.KindCreate, cluster("RUNNING", 0, "OK"), false, "done"},
		{"create in a state nobody configured", approvals.KindCreate, cluster("ACTIVE", 0, "OK"), false, "not yet"},
		{"update still in progress", approvals.KindUpdate, updating(cluster(cloudapi.StateStarted, 5, "OK")), false, "not yet"},
		{"stop of a cluster that starts again", approvals.KindStop, cluster(cloudapi.StateStarted, 5, "OK"), false, "not yet"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := approvals.Request{Kind: tc.kind, Revision: base}
			switch tc.kind {
			case approvals.KindStop:
				r.Revision.ProposedSpec = &cloudapi.ClusterSpec{DesiredState: cloudapi.DesiredStopped}
			case approvals.KindStart:
				r.Revision.ProposedSpec = &cloudapi.ClusterSpec{DesiredState: cloudapi.DesiredStarted}
			}
			require.Equal(t, tc.want, e.judge(r, sub, tc.c, tc.gone))
		})
	}
}
