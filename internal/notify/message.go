package notify

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

// Message is an event as every channel says it, rendered once by the
// fan-out and stored with each delivery, so that a retry or an admin's
// resend sends the same thing. It never holds a secret: it is made of the
// request's cluster, kind, plan headline, who acted and their comment.
type Message struct {
	// ID is the event's id (its notify_event job).
	ID      int64     `json:"id"`
	Kind    Kind      `json:"kind"`
	Action  string    `json:"action"`
	At      time.Time `json:"at"`
	Subject string    `json:"subject"`
	// Text is the plain-text body; HTML the email's HTML part.
	Text string `json:"text"`
	HTML string `json:"html"`
	// URL opens the request; Preferences the reader's notification
	// preferences (List-Unsubscribe).
	URL         string `json:"url"`
	Preferences string `json:"preferences"`

	RequestID   int64  `json:"request_id"`
	Revision    int    `json:"revision"`
	Cluster     string `json:"cluster"`
	Environment string `json:"environment"`
	RequestKind string `json:"request_kind"`
	// Change is RequestKind in words ("restart a server").
	Change    string `json:"change"`
	Plan      string `json:"plan"`
	Requester string `json:"requester"`
	Actor     string `json:"actor"`
	Comment   string `json:"comment,omitempty"`
	State     string `json:"state"`
}

// PreferencesPath is the page where a person chooses what they are told.
const PreferencesPath = "/notifications/preferences"

// RequestPath is the stable address of request id.
func RequestPath(id int64) string { return fmt.Sprintf("/requests/%d", id) }

// compose renders the message of event ev on request r.
func compose(ctx context.Context, baseURL string, id int64, ev EventArgs, r approvals.Request) (Message, error) {
	base := strings.TrimRight(baseURL, "/")
	plan := approvals.PlanOf(r.Kind, r.ClusterName, r.Revision)
	actor := ev.Actor
	if actor == "" {
		actor = "Clusterdesk"
	}
	m := Message{ID: id, Kind: ev.Event, Action: ev.Action, At: ev.At, URL: base + RequestPath(r.ID),
		Preferences: base + PreferencesPath, RequestID: r.ID, Revision: ev.Revision, Cluster: r.ClusterName,
		Environment: r.Environment(), RequestKind: string(r.Kind), Change: changeWords(r.Kind), Plan: plan.Headline, Requester: r.Requester.Name,
		Actor: actor, Comment: ev.Comment, State: string(r.State)}
	m.Subject = fmt.Sprintf("[%s] Request #%d (%s) %s", m.Cluster, m.RequestID, m.Change, ev.Event.Title())
	m.Text = plainText(m)
	var html bytes.Buffer
	if err := emailHTML(m).Render(ctx, &html); err != nil {
		return Message{}, fmt.Errorf("render email: %w", err)
	}
	m.HTML = html.String()
	return m, nil
}

// changeWords is what a request of kind k does, in words.
func changeWords(k approvals.Kind) string {
	switch k {
	case approvals.KindRestartServer:
		return "restart a server"
	case approvals.KindRollback:
		return "roll back the configuration"
	case approvals.KindReplace:
		return "replace the configuration"
	case approvals.KindUpdate:
		return "update the configuration"
	}
	return string(k) // create, stop, start, delete
}

// Headline is one sentence saying what happened, for chat and the text
// part.
func (m Message) Headline() string {
	switch m.Kind {
	case KindWaiting:
		of := " of" // restart a server of cluster x; but stop cluster x
		if m.Change == m.RequestKind {
			of = ""
		}
		return fmt.Sprintf("%s asks to %s%s cluster %s: request #%d waits for your approval.", m.Requester, m.Change, of, m.Cluster, m.RequestID)
	case KindApproved, KindRejected, KindCancelled:
		return fmt.Sprintf("%s %s request #%d (%s on %s).", m.Actor, m.Kind, m.RequestID, m.Change, m.Cluster)
	case KindStale:
		return fmt.Sprintf("Cluster %s changed since request #%d (%s) was filed: rebase it before it can be approved.", m.Cluster, m.RequestID, m.Change)
	case KindSubmitted:
		return fmt.Sprintf("Request #%d (%s on %s) was sent to Cloud Manager.", m.RequestID, m.Change, m.Cluster)
	case KindSucceeded:
		return fmt.Sprintf("Request #%d (%s on %s) is done: the cluster converged.", m.RequestID, m.Change, m.Cluster)
	case KindFailed:
		return fmt.Sprintf("Request #%d (%s on %s) failed.", m.RequestID, m.Change, m.Cluster)
	case KindExpired:
		return fmt.Sprintf("Request #%d (%s on %s) expired: nobody decided on it in time. File it again if it is still needed.", m.RequestID, m.Change, m.Cluster)
	case KindResent:
		return fmt.Sprintf("%s sent request #%d (%s on %s) to Cloud Manager again after it failed.", m.Actor, m.RequestID, m.Change, m.Cluster)
	case KindEmergency:
		return fmt.Sprintf("EMERGENCY: %s sent request #%d (%s on %s) without approval. An approver must review it.", m.Actor, m.RequestID, m.Change, m.Cluster)
	case KindHardUpdate:
		return fmt.Sprintf("HARD UPDATE: request #%d (%s on %s) was sent to Cloud Manager; the affected servers restart at once, so the cluster may be unavailable for a while.", m.RequestID, m.Change, m.Cluster)
	}
	return fmt.Sprintf("Request #%d (%s on %s): %s.", m.RequestID, m.Change, m.Cluster, m.Kind)
}

// CommentLabel names the comment by the kind of event.
func (m Message) CommentLabel() string {
	switch m.Kind {
	case KindFailed:
		return "Cloud Manager said"
	case KindApproved:
		return "Comment"
	case KindEmergency:
		return "Justification"
	}
	return "Reason"
}

func plainText(m Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", m.Headline())
	fmt.Fprintf(&b, "Cluster:   %s (%s)\n", m.Cluster, m.Environment)
	fmt.Fprintf(&b, "Change:    %s\n", m.Change)
	fmt.Fprintf(&b, "Plan:      %s\n", m.Plan)
	fmt.Fprintf(&b, "Requester: %s\n", m.Requester)
	fmt.Fprintf(&b, "By:        %s\n", m.Actor)
	if m.Comment != "" {
		fmt.Fprintf(&b, "%s: %s\n", m.CommentLabel(), m.Comment)
	}
	fmt.Fprintf(&b, "\nOpen the request: %s\n\n--\nChoose what Clusterdesk emails you: %s\n", m.URL, m.Preferences)
	return b.String()
}

// ChatText is the message in a chat channel: the headline, the plan and
// the link (a bare URL, which Slack and Mattermost both turn into a link).
func (m Message) ChatText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s*\n%s · %s\nBy %s", m.Headline(), m.Cluster, m.Plan, m.Actor)
	if m.Comment != "" {
		fmt.Fprintf(&b, " — %s: %s", m.CommentLabel(), m.Comment)
	}
	fmt.Fprintf(&b, "\n%s", m.URL)
	return b.String()
}

func htmlEscape(s string) string { return html.EscapeString(s) }
