package handlers

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// TestRequestStateVocabulary: every state of a change request has its
// words, its meaning and one colour class by kind (amber waits for
// someone, blue is under way, green done, red failed or refused, grey
// closed), and the page's badge carries all three.
func TestRequestStateVocabulary(t *testing.T) {
	t.Parallel()
	want := map[approvals.State]string{
		approvals.StatePending: templates.StateWaiting, approvals.StateStale: templates.StateWaiting,
		approvals.StateApproved: templates.StateActive, approvals.StateSubmitting: templates.StateActive,
		approvals.StateApplying: templates.StateActive, approvals.StateSucceeded: templates.StateOK,
		approvals.StateFailed: templates.StateBad, approvals.StateRejected: templates.StateBad,
		approvals.StateCancelled: templates.StateOff, approvals.StateExpired: templates.StateOff,
	}
	require.Len(t, want, len(approvals.States()), "every state has its colour")
	labels := map[string]bool{}
	for _, st := range approvals.States() {
		info := templates.RequestState(string(st))
		require.Equal(t, want[st], info.Class, st)
		require.NotEqual(t, string(st), info.Label, "%s is said in words", st)
		require.NotEmpty(t, info.Meaning, st)
		require.Equal(t, info.Label, requestStateText(st), "the page and the vocabulary agree on %s", st)
		require.False(t, labels[info.Label], "%s: two states say %q", st, info.Label)
		labels[info.Label] = true
	}
	require.Len(t, templates.RequestStates(), len(approvals.States()), "the legend lists every state once")
	require.Equal(t, templates.StateOff, templates.RequestState("teleported").Class, "an unknown state is grey")
	require.Equal(t, "teleported", templates.RequestState("teleported").Label)

	var buf bytes.Buffer
	require.NoError(t, templates.RequestStateBadge("Done", "succeeded").Render(context.Background(), &buf))
	require.Equal(t, `<span class="state-badge state-ok" title="The change is applied: the cluster converged." data-testid="request-state" data-state="succeeded">Done</span>`, buf.String())

	buf.Reset()
	require.NoError(t, templates.RequestStateLegend().Render(context.Background(), &buf))
	legend := html.UnescapeString(buf.String())
	require.Contains(t, legend, "<summary>What the states mean</summary>")
	for _, st := range templates.RequestStates() {
		require.Contains(t, legend, st.Meaning)
	}
	require.NotContains(t, legend, `data-testid="request-state"`, "the legend's badges are not the page's state")
}

// TestRequestActionsInWords: every audit action about a request is said in
// a sentence people use, with the state it moved the request to (one of
// the request's states) and what the person wrote.
func TestRequestActionsInWords(t *testing.T) {
	t.Parallel()
	for _, a := range audit.Actions() {
		if !strings.HasPrefix(string(a), "request.") && !strings.HasPrefix(string(a), "submission.") {
			continue
		}
		text := templates.RequestActionText(string(a), "Dave Davis", map[string]any{"revision": float64(2)})
		require.NotContains(t, text.Sentence, string(a), "%s is said in words", a)
		require.True(t, strings.HasSuffix(text.Sentence, "."), "%s: %q is a sentence", a, text.Sentence)
		if text.State != "" {
			require.True(t, approvals.State(text.State).Valid(), "%s moves to %q", a, text.State)
		}
	}
	for _, tc := range []struct {
		action   audit.Action
		data     map[string]any
		sentence string
		quote    string
		state    string
	}{
		{audit.RequestCreated, nil, "Dave Davis filed the request.", "", "pending"},
		{audit.RequestApproved, map[string]any{"revision": float64(1), "comment": "fine"}, "Dave Davis approved revision 1.", "fine", ""},
		{audit.RequestCancelled, map[string]any{"comment": "maintenance freeze"}, "Dave Davis cancelled the request.", "maintenance freeze", "cancelled"},
		{audit.SubmissionSucceeded, map[string]any{"attempt": float64(1)}, "Cloud Manager accepted the change.", "", "applying"},
		{audit.SubmissionApplied, map[string]any{"converged": true}, "The change is applied: the cluster converged.", "", "succeeded"},
		{audit.SubmissionFailed, map[string]any{"reason": "the API refused"}, "The change failed.", "the API refused", "failed"},
	} {
		got := templates.RequestActionText(string(tc.action), "Dave Davis", tc.data)
		require.Equal(t, templates.ActionText{Sentence: tc.sentence, Quote: tc.quote, State: tc.state}, got, tc.action)
	}
}

// TestRequestPageEventsSinceTheApprovalNewestFirst: the request page shows
// the cluster events of its change since the approval, newest first; an
// event from before the approval (the cluster's own history, copied with
// the change's) is left out.
func TestRequestPageEventsSinceTheApprovalNewestFirst(t *testing.T) {
	f := newDecideFixture(t)
	alice, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "morning start")
	require.Contains(t, alice.get(requestPath(r.ID)).body, `data-testid="request-events-none"`)

	bob, _ := f.signedIn("bob")
	resp := bob.postOnce(requestPath(r.ID, "approve"), decisionValues(bob, r.Revision.Number, ""))
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	var approvedAt time.Time
	require.NoError(t, f.pool.QueryRow(t.Context(), `SELECT approved_at FROM submissions WHERE request_id = $1`, r.ID).Scan(&approvedAt))
	for _, e := range []struct {
		at      time.Time
		message string
	}{
		{approvedAt.Add(-time.Hour), "Cluster created long ago"},
		{approvedAt.Add(time.Second), "Configuration version 2 accepted"},
		{approvedAt.Add(2 * time.Second), "Cluster is STARTED " + strings.Repeat("and a long message that wraps ", 8)},
	} {
		_, err := f.pool.Exec(t.Context(), `INSERT INTO cluster_events (cluster_uid, at, level, source, message, request_id)
			VALUES ($1, $2, 'INFO', 'CLUSTER', $3, $4)`, r.ClusterUID, e.at, e.message, r.ID)
		require.NoError(t, err)
	}

	page := html.UnescapeString(alice.get(requestPath(r.ID)).body)
	events := regexp.MustCompile(`(?s)<li data-testid="request-event">(.*?)</li>`).FindAllStringSubmatch(page, -1)
	require.Len(t, events, 2, "only the events since the approval")
	require.Contains(t, events[0][1], "Cluster is STARTED", "newest first")
	require.Contains(t, events[1][1], "Configuration version 2 accepted")
	require.NotContains(t, page, "Cluster created long ago")
	// Time in one column, level and message in the other.
	require.Regexp(t, `^<time datetime="[^"]+" data-relative>[^<]+</time><div class="event-text"><span class="event-level event-info">info</span>`, events[0][1])
}
