package notify_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
