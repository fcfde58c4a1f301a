package notify_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/notify"
	"github.com/clusterdesk/clusterdesk/internal/notify/notifytest"
)

// A webhook answering 500 three times then 200 is delivered once: four
// attempts in the log, each signed and verified by the independent
// verifier, all with the same webhook-id and body.
func TestWebhookRetriedUntilAccepted(t *testing.T) {
	t.Parallel()
	secret := notify.NewSecret()
	rcv := notifytest.NewReceiver(t, secret, 3)
	f := setup(t, options{endpoints: []notify.Endpoint{{Kind: notify.ChannelWebhook, Name: "cmdb", URL: rcv.URL + "/hooks/clusterdesk",
		Secret: secret, Enabled: true}}})
	r := f.restart(t, f.alice)
	list := f.settled(t, r.ID, 4)
	var hook notify.Delivery
	for _, d := range list {
		if d.Channel == notify.ChannelWebhook {
			hook = d
		}
	}
	require.Equal(t, notify.StateSent, hook.State)
	require.Equal(t, 4, hook.Attempts)
	require.Equal(t, "cmdb", hook.Target)

	calls, verified, accepted := rcv.Counts()
	require.Equal(t, 4, calls)
	require.Equal(t, 4, verified, "every attempt carries a valid signature")
	require.Equal(t, 1, accepted)
	headers, bodies := rcv.Requests()
	for i, h := range headers {
		require.Equal(t, hook.IdempotencyKey, h.Get("webhook-id"))
		require.Equal(t, string(bodies[0]), string(bodies[i]))
	}
	var payload notify.WebhookPayload
	require.NoError(t, json.Unmarshal(bodies[0], &payload))
	require.Equal(t, "request.waiting", payload.Type)
	require.Equal(t, "analytics-staging", payload.Data.Cluster)
	require.Equal(t, baseURL+"/requests/"+itoa(r.ID), payload.Data.URL)
	require.NotContains(t, string(bodies[0]), secret)

	// A tampered body fails the independent verifier.
	require.Error(t, notifytest.VerifyStandardWebhook(secret, headers[0], append([]byte(" "), bodies[0]...)))
}

// A webhook that never accepts is tried MaxAttempts times, then failed in
// the log; an admin's resend (audited) delivers it once it is fixed.
func TestWebhookFailsThenResent(t *testing.T) {
	t.Parallel()
	secret := notify.NewSecret()
	rcv := notifytest.NewReceiver(t, secret, 1000)
	f := setup(t, options{maxAttempts: 3})
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	e, err := notify.EndpointAdd(ctx, tx, audit.User(itoa(f.dave.UserID), f.dave.Name), audit.Origin{}, f.dave.UserID,
		notify.NewEndpoint{Kind: notify.ChannelWebhook, Name: "cmdb", URL: rcv.URL + "/hook?token=abc"})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	rcv.SetSecret(e.Secret)

	r := f.restart(t, f.alice)
	list := f.settled(t, r.ID, 4)
	var hook notify.Delivery
	for _, d := range list {
		if d.Channel == notify.ChannelWebhook {
			hook = d
		}
	}
	require.Equal(t, notify.StateFailed, hook.State)
	require.Equal(t, 3, hook.Attempts)
	require.Contains(t, hook.LastError, "HTTP 500")
	require.NotContains(t, hook.LastError, "token=abc", "the delivery log never shows the endpoint's URL")

	rcv.SetFailures(0)
	require.NoError(t, f.notify.Resend(ctx, f.river, audit.User(itoa(f.dave.UserID), f.dave.Name), audit.Origin{}, hook.ID))
	require.Eventually(t, func() bool {
		d, err := notify.DeliveryGet(ctx, f.pool, hook.ID)
		require.NoError(t, err)
		return d.State == notify.StateSent
	}, 20*time.Second, 10*time.Millisecond)
	d, err := notify.DeliveryGet(ctx, f.pool, hook.ID)
	require.NoError(t, err)
	require.Equal(t, 4, d.Attempts)
	_, verified, accepted := rcv.Counts()
	require.Equal(t, 4, verified)
	require.Equal(t, 1, accepted)
	require.ErrorIs(t, f.notify.Resend(ctx, f.river, audit.User("1", "x"), audit.Origin{}, 999999), notify.ErrNotFound)

	var audited int
	require.NoError(t, f.pool.QueryRow(ctx, `
		SELECT count(*) FROM audit_log WHERE action IN ('notify.endpoint_added', 'notify.delivery_resent')
		  AND data::text NOT LIKE '%whsec_%' AND data::text NOT LIKE '%token=abc%'`).Scan(&audited))
	require.Equal(t, 2, audited, "both admin acts audited, without the secret or the URL's token")
}

// A chat endpoint gets the Slack-compatible payload: readable text
// naming the cluster, the change and who acted, with the link.
func TestChatPayload(t *testing.T) {
	t.Parallel()
	rcv := notifytest.NewReceiver(t, "", 0)
	f := setup(t, options{endpoints: []notify.Endpoint{{Kind: notify.ChannelChat, Name: "ops", URL: rcv.URL + "/services/T0/B0/XXXX", Enabled: true}}})
	r := f.restart(t, f.alice)
	f.settled(t, r.ID, 4)
	require.NoError(t, f.approve(t, f.carol, r))
	f.settled(t, r.ID, 6)

	_, bodies := rcv.Requests()
	require.Len(t, bodies, 2)
	var first, second map[string]any
	require.NoError(t, json.Unmarshal(bodies[0], &first))
	require.NoError(t, json.Unmarshal(bodies[1], &second))
	require.Equal(t, []string{"text"}, keys(first), "the payload Slack and Mattermost both accept")
	text := first["text"].(string)
	require.Contains(t, text, "analytics-staging")
	require.Contains(t, text, "asks to restart a server of cluster analytics-staging")
	require.Contains(t, text, baseURL+"/requests/"+itoa(r.ID))
	require.Contains(t, second["text"], "carol Example approved")
}

// An endpoint narrowed to another environment hears nothing of this one.
func TestEndpointNarrowedToAnEnvironment(t *testing.T) {
	t.Parallel()
	rcv := notifytest.NewReceiver(t, "", 0)
	f := setup(t, options{endpoints: []notify.Endpoint{{Kind: notify.ChannelChat, Name: "prod-only", URL: rcv.URL, Environment: "production", Enabled: true}}})
	r := f.restart(t, f.alice)
	list := f.settled(t, r.ID, 3)
	require.Len(t, list, 3)
	calls, _, _ := rcv.Counts()
	require.Zero(t, calls)
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
