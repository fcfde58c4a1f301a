package notify_test

import (
	"context"
	"fmt"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/notify"
	"github.com/clusterdesk/clusterdesk/internal/notify/notifytest"
)

// A filed request emails the people who may approve it (not the
// requester, not someone without the approver role), through a real SMTP
// server: one message each, naming the cluster, the change and the server
// restarted, with plain-text and HTML parts, the link to the request and
// List-Unsubscribe to the preferences page.
func TestFiledRequestEmailsItsApprovers(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
	r := f.restart(t, f.alice)
	list := f.settled(t, r.ID, 3)

	var to []string
	for _, d := range list {
		require.Equal(t, notify.ChannelEmail, d.Channel)
		require.Equal(t, notify.StateSent, d.State, d.LastError)
		require.Equal(t, 1, d.Attempts)
		to = append(to, d.Target)
	}
	require.ElementsMatch(t, []string{"bob@example.com", "carol@example.com", "dave@example.com"}, to)
	require.Empty(t, f.smtp.To("alice@example.com"))
	require.Empty(t, f.smtp.To("mallory@example.com"))

	got := f.smtp.To("carol@example.com")
	require.Len(t, got, 1)
	msg, err := mail.ReadMessage(strings.NewReader(got[0].Data))
	require.NoError(t, err)
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	require.Contains(t, subject, "analytics-staging")
	require.Contains(t, subject, "restart a server")
	require.Equal(t, "<"+baseURL+notify.PreferencesPath+">", msg.Header.Get("List-Unsubscribe"))
	require.Contains(t, msg.Header.Get("Message-ID"), "_email_user-")

	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mediaType)
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		var b strings.Builder
		_, err = readAll(&b, p)
		require.NoError(t, err)
		parts[ct] = b.String()
	}
	link := baseURL + "/requests/" + itoa(r.ID)
	server := r.Revision.Payload.InstanceID
	require.NotEmpty(t, server)
	for _, ct := range []string{"text/plain", "text/html"} {
		require.Contains(t, parts[ct], "analytics-staging", ct)
		require.Contains(t, parts[ct], server, ct+": the plan names the server")
		require.Contains(t, parts[ct], link, ct)
		require.Contains(t, parts[ct], "alice Example", ct)
	}
	require.Contains(t, parts["text/html"], `href="`+link+`"`)
}

// A person who turned email off for a kind gets none of it; the others
// still do.
func TestEmailOffSendsNone(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, notify.PreferencesSet(ctx, tx, f.carol.UserID, []notify.Preference{{Kind: notify.KindWaiting, Email: false}}))
	require.NoError(t, tx.Commit(ctx))
	prefs, err := notify.Preferences(ctx, f.pool, f.carol.UserID)
	require.NoError(t, err)
	require.False(t, prefs[0].Email)
	require.True(t, prefs[1].Email, "the other kinds keep their default")

	r := f.restart(t, f.alice)
	list := f.settled(t, r.ID, 2)
	require.Len(t, list, 2)
	for _, d := range list {
		require.NotEqual(t, "carol@example.com", d.Target)
	}
	require.Len(t, f.smtp.To("bob@example.com"), 1)
	require.Empty(t, f.smtp.To("carol@example.com"))
}

// Approving tells the requester, once; the approver is not told of their
// own approval.
func TestApprovalEmailsTheRequester(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
	r := f.restart(t, f.alice)
	f.settled(t, r.ID, 3)
	require.NoError(t, f.approve(t, f.carol, r))
	list := f.settled(t, r.ID, 4)
	require.Len(t, list, 4)
	last := list[3]
	require.Equal(t, notify.KindApproved, last.Event)
	require.Equal(t, "alice@example.com", last.Target)
	require.Equal(t, []string{"[analytics-staging] Request #" + itoa(r.ID) + " (restart a server) approved"}, f.smtp.Subjects("alice@example.com"))
	require.Contains(t, last.Message.Text, "carol Example approved")
}

// An approval whose transaction fails at commit, after its audit event
// was written, tells nobody: the event went with the transaction. The
// approval that then commits is told once.
func TestRolledBackApprovalSendsNothing(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
	ctx := context.Background()
	r := f.restart(t, f.alice)
	f.settled(t, r.ID, 3)

	// A deferred trigger fails the commit of this request's approval.
	_, err := f.pool.Exec(ctx, fmt.Sprintf(`
		CREATE FUNCTION fail_approval() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'simulated failure at commit'; END $$;
		CREATE CONSTRAINT TRIGGER fail_approval AFTER INSERT ON audit_log
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
			WHEN (NEW.action = 'request.approved' AND NEW.subject_id = '%d') EXECUTE FUNCTION fail_approval()`, r.ID))
	require.NoError(t, err)
	require.ErrorContains(t, f.approve(t, f.carol, r), "simulated failure at commit")
	got, err := approvals.Get(ctx, f.pool, r.ID)
	require.NoError(t, err)
	require.Equal(t, approvals.StatePending, got.State)

	// Everything committed since is relayed before the approval commits.
	_, err = f.pool.Exec(ctx, `DROP TRIGGER fail_approval ON audit_log`)
	require.NoError(t, err)
	require.NoError(t, f.approve(t, f.carol, r))
	list := f.settled(t, r.ID, 4)
	require.Len(t, list, 4)
	require.Len(t, f.smtp.Subjects("alice@example.com"), 1)
	var approved int
	require.NoError(t, f.pool.QueryRow(ctx, `
		SELECT count(*) FROM river_job WHERE kind = 'notify_event' AND args->>'event' = 'approved'`).Scan(&approved))
	require.Equal(t, 1, approved, "one approval committed, one event")
}

// A fan-out or a delivery run again (a job retried after its end was
// lost) sends nothing twice: the idempotency key of each (event,
// recipient, channel) is unique and a sent delivery is not sent again.
func TestRetriedJobsSendNothingTwice(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
	ctx := context.Background()
	r := f.restart(t, f.alice)
	list := f.settled(t, r.ID, 3)

	var ev notify.EventArgs
	var id int64
	require.NoError(t, f.pool.QueryRow(ctx, `
		SELECT id, args FROM river_job WHERE kind = 'notify_event' AND (args->>'request_id')::bigint = $1`, r.ID).Scan(&id, &ev))
	require.Equal(t, list[0].EventID, id)
	require.NoError(t, f.notify.FanOut(ctx, f.river, id, ev))
	for _, d := range list {
		require.NoError(t, f.notify.Deliver(ctx, d.ID))
	}
	again := f.deliveries(t, r.ID)
	require.Len(t, again, 3)
	for _, d := range again {
		require.Equal(t, 1, d.Attempts)
	}
	require.Len(t, f.smtp.To("carol@example.com"), 1)
}

// SMTP down for a minute: the deliveries are retried, each counted in the
// log, and once the server is back each person has exactly one message.
func TestSMTPDownThenBack(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	f := setup(t, options{smtpAddr: addr, maxAttempts: 1000})
	down := time.Now()
	r := f.restart(t, f.alice)

	// Down: every delivery fails at least twice and stays pending (an
	// attempt is counted as it starts: the third may be under way).
	require.Eventually(t, func() bool {
		list := f.deliveries(t, r.ID)
		if len(list) != 3 {
			return false
		}
		for _, d := range list {
			if d.Attempts < 3 || d.State != notify.StatePending || d.LastError == "" {
				return false
			}
		}
		return true
	}, 20*time.Second, 10*time.Millisecond)
	require.NotContains(t, f.deliveries(t, r.ID)[0].LastError, "s3cret")
	time.Sleep(time.Until(down.Add(time.Minute)))
	for _, d := range f.deliveries(t, r.ID) {
		require.Equal(t, notify.StatePending, d.State, "still pending after a minute down")
	}

	box := notifytest.StartMailbox(t, addr)
	list := f.settled(t, r.ID, 3)
	for _, d := range list {
		require.Equal(t, notify.StateSent, d.State)
		require.GreaterOrEqual(t, d.Attempts, 3)
		require.Len(t, box.To(d.Target), 1, d.Target)
	}
	require.Len(t, box.All(), 3)
}

// STARTTLS with authentication, against a server that offers both.
func TestSMTPStartTLSAndAuth(t *testing.T) {
	t.Parallel()
	box := notifytest.StartMailbox(t, "", selfSignedCert(t))
	host, port := splitHostPort(t, box.Addr)
	c := notify.SMTP{Host: host, Port: port, TLS: notify.TLSStartTLS, Username: notifytest.Username, Password: notifytest.Password,
		From: "Clusterdesk <clusterdesk@example.com>", InsecureSkipVerify: true}
	d := notify.Delivery{IdempotencyKey: "evt_1_email_user-1", Target: "carol@example.com",
		Message: notify.Message{Subject: "hello", Text: "plain", HTML: "<p>html</p>", Preferences: baseURL + notify.PreferencesPath}}
	require.NoError(t, c.Send(context.Background(), "carol@example.com", notify.Email(c.From, d)))
	require.Len(t, box.To("carol@example.com"), 1)

	c.Password = "wrong"
	require.Error(t, c.Send(context.Background(), "carol@example.com", notify.Email(c.From, d)))
	require.Len(t, box.To("carol@example.com"), 1)
}

// A person who chose the digest gets nothing at once, then one email
// listing what was held; a second run sends nothing more.
func TestDigestHoldsThenSendsOnce(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, notify.PreferencesSet(ctx, tx, f.carol.UserID, []notify.Preference{{Kind: notify.KindWaiting, Email: true, Digest: true}}))
	require.NoError(t, tx.Commit(ctx))

	first, second := f.restart(t, f.alice), f.restart(t, f.bob)
	f.settled(t, first.ID, 3)
	f.settled(t, second.ID, 2)
	require.Empty(t, f.smtp.To("carol@example.com"))

	require.NoError(t, f.notify.SendDigests(ctx))
	require.NoError(t, f.notify.SendDigests(ctx))
	got := f.smtp.To("carol@example.com")
	require.Len(t, got, 1)
	require.Contains(t, got[0].Data, "Clusterdesk: 2 updates")
	for _, r := range []int64{first.ID, second.ID} {
		for _, d := range f.deliveries(t, r) {
			require.Equal(t, notify.StateSent, d.State)
		}
	}
}
