package notify

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// TestEventOfARequestSentBackForApproval: an approved request whose
// approvals expired (request.updated from approved) tells its approvers it
// waits for them, with the reason; an edit's event carries the request's
// own reason, which is no comment.
func TestEventOfARequestSentBackForApproval(t *testing.T) {
	t.Parallel()
	updated := func(data string) audit.Entry {
		return audit.Entry{Seq: 7, Action: audit.RequestUpdated, Actor: audit.System("worker"),
			Subject: audit.Subject{Type: audit.SubjectRequest, ID: "42"}, Data: json.RawMessage(data)}
	}
	ev, _, ok := eventOf(updated(`{"revision": 1, "state": "pending", "previous_state": "approved", "reason": "approvals expired"}`))
	require.True(t, ok)
	require.Equal(t, KindWaiting, ev.Event)
	require.EqualValues(t, 42, ev.RequestID)
	require.Equal(t, "approvals expired", ev.Comment)

	ev, _, ok = eventOf(updated(`{"revision": 2, "state": "pending", "reason": "more capacity for the holidays"}`))
	require.True(t, ok)
	require.Equal(t, KindWaiting, ev.Event)
	require.Empty(t, ev.Comment)
}
