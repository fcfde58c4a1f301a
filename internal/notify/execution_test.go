package notify_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/notify"
)

// With the real worker executing on the simulator: the approval tells
// alice "approved", the converged restart tells her and carol, who
// approved it, "done"; the step in between (submitted) is off by default,
// so only its delivery-free event exists.
func TestExecutionOutcomesNotify(t *testing.T) {
	t.Parallel()
	f := setup(t, options{execution: true})
	r := f.restart(t, f.alice)
	f.settled(t, r.ID, 3)
	require.NoError(t, f.approve(t, f.carol, r))

	var list []notify.Delivery
	require.Eventually(t, func() bool {
		list = f.deliveries(t, r.ID)
		for _, d := range list {
			if d.Event == notify.KindSucceeded && d.Target == "carol@example.com" && d.State == notify.StateSent {
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond)
	list = f.settled(t, r.ID, len(list))
	var kinds []string
	for _, d := range list[3:] {
		kinds = append(kinds, string(d.Event)+" "+d.Target)
	}
	require.ElementsMatch(t, []string{"approved alice@example.com", "succeeded alice@example.com", "succeeded carol@example.com"}, kinds)
	subjects := f.smtp.Subjects("alice@example.com")
	require.Len(t, subjects, 2)
	require.Contains(t, subjects[0], "approved")
	require.Contains(t, subjects[1], "done")
}

// A hard update sent tells the hard-update group, once, besides the
// request's own people; an ordinary change does not.
func TestHardUpdateTellsItsGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, options{execution: true, hardUpdateGroups: []string{"sre"}})
	f.user(t, "erin", false, "sre")

	c, err := inventory.ClusterGet(ctx, f.pool, f.staging)
	require.NoError(t, err)
	spec := c.Spec
	spec.Version = "2024.07"
	hard, err := f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindUpdate, ClusterUID: f.staging,
		Reason: "upgrade", Spec: &spec, SeenResourceVersion: &c.ResourceVersion, HardUpdate: true})
	require.NoError(t, err)
	require.NoError(t, f.approve(t, f.carol, hard))
	require.NoError(t, f.approve(t, f.dave, hard), "an upgrade needs two approvals")
	f.succeeded(t, hard.ID)

	var told []notify.Delivery
	for _, d := range f.settled(t, hard.ID, 1) {
		if d.Target == "erin@example.com" {
			told = append(told, d)
		}
	}
	require.Len(t, told, 1)
	require.Equal(t, notify.KindHardUpdate, told[0].Event)
	require.Contains(t, told[0].Message.Text, "HARD UPDATE")
	require.Contains(t, told[0].Message.Text, "analytics-staging")
	require.Len(t, f.smtp.To("erin@example.com"), 1)

	r := f.restart(t, f.alice)
	require.NoError(t, f.approve(t, f.carol, r))
	f.succeeded(t, r.ID)
	for _, d := range f.settled(t, r.ID, 1) {
		require.NotEqual(t, "erin@example.com", d.Target, "a rolling change is not the hard-update group's")
	}
}

// succeeded waits until request id's change converged and carol, who
// approved it, was told.
func (f *fixture) succeeded(t *testing.T, id int64) {
	t.Helper()
	if !assert.Eventually(t, func() bool {
		for _, d := range f.deliveries(t, id) {
			if d.Event == notify.KindSucceeded && d.Target == "carol@example.com" && d.State == notify.StateSent {
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond) {
		t.Fatalf("request %d: %s", id, f.debug(t, id))
	}
}

// debug says request id's state and deliveries, for a failure message.
func (f *fixture) debug(t *testing.T, id int64) string {
	r, _ := approvals.Get(context.Background(), f.pool, id)
	out := fmt.Sprintf("state %s;", r.State)
	for _, d := range f.deliveries(t, id) {
		out += fmt.Sprintf(" %s %s %s;", d.Event, d.Target, d.State)
	}
	return out
}
