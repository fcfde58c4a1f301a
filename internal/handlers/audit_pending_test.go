package handlers

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// TestAuditPagesShowEventsAwaitingChaining: an event committed but not
// chained yet is listed at once, says it has no place in the chain yet,
// and its page keeps working once it is chained.
func TestAuditPagesShowEventsAwaitingChaining(t *testing.T) {
	t.Parallel()
	env := auditEnv(t, 3) // chained
	b := env.browser()
	b.signIn("erin", "/")

	var unchained audit.Entry
	require.NoError(t, pgx.BeginFunc(t.Context(), env.pool, func(tx pgx.Tx) error {
		var err error
		unchained, err = audit.Append(t.Context(), tx, audit.Event{
			Actor: audit.User("1", "Person 1"), Action: audit.RequestApproved,
			Subject: audit.Subject{Type: audit.SubjectRequest, ID: "77"}, Data: map[string]any{"note": "fresh"},
		})
		return err
	}))
	require.True(t, unchained.Pending())

	list := b.get("/audit")
	require.Equal(t, http.StatusOK, list.status)
	require.Equal(t, unchained.Seq, rowSeqs(t, list.body)[0], "the newest event is listed first")
	require.Contains(t, list.body, `data-testid="audit-pending"`)
	require.Contains(t, list.body, "Not chained yet")

	eventPath := "/audit/events/" + strconv.FormatInt(unchained.Seq, 10)
	event := b.get(eventPath)
	require.Equal(t, http.StatusOK, event.status)
	require.Contains(t, event.body, `data-testid="event-pending"`)
	require.NotContains(t, event.body, `data-testid="hash-mismatch"`, "an unchained event is not a broken one")

	verify := b.get("/audit/verify")
	require.Equal(t, http.StatusOK, verify.status)
	require.Contains(t, verify.body, `data-testid="head-pending">1 `)

	_, err := audit.ChainAll(t.Context(), env.pool)
	require.NoError(t, err)
	event = b.get(eventPath)
	require.Equal(t, http.StatusOK, event.status, "a link made before chaining still finds the event")
	require.Contains(t, event.body, `data-testid="hash-ok"`)
	require.Contains(t, event.body, "Event 4: request.approved")
	require.NotContains(t, b.get("/audit").body, `data-testid="audit-pending"`)
	require.NotContains(t, b.get("/audit/verify").body, `data-testid="head-pending"`)
}
