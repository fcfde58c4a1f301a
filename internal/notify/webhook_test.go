package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/notify"
)

// verifyStandardWebhook checks a request as the Standard Webhooks
// specification (standardwebhooks.com, "Verifying webhooks") describes,
// written from its text and not from notify.Sign: the signed content is
// "{webhook-id}.{webhook-timestamp}.{body}", the key is the base64 after
// "whsec_", webhook-signature is a space-delimited list of "v1,{base64
// HMAC-SHA256}" of which one must match, and the timestamp must be within
// five minutes of now.
func verifyStandardWebhook(secret string, header http.Header, body []byte) error {
	id, ts, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook headers")
	}
	seconds, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("bad timestamp")
	}
	if d := time.Since(time.Unix(seconds, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp outside tolerance")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	signer := hmac.New(sha256.New, key)
	signer.Write([]byte(id + "." + ts + "." + string(body)))
	want := signer.Sum(nil)
	for _, versioned := range strings.Fields(sigs) {
		version, sig, found := strings.Cut(versioned, ",")
		if !found || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

// receiver is a webhook endpoint that verifies every request's signature
// and answers 500 to the first failures ones.
type receiver struct {
	*httptest.Server
	secret   string
	mu       sync.Mutex
	failures int
	calls    []http.Header
	bodies   [][]byte
	verified int
	accepted int
}

func newReceiver(t *testing.T, secret string, failures int) *receiver {
	t.Helper()
	r := &receiver{secret: secret, failures: failures}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls = append(r.calls, req.Header.Clone())
		r.bodies = append(r.bodies, body)
		if r.secret != "" {
			if err := verifyStandardWebhook(r.secret, req.Header, body); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			r.verified++
		}
		if len(r.calls) <= r.failures {
			http.Error(w, "try again later", http.StatusInternalServerError)
			return
		}
		r.accepted++
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) counts() (calls, verified, accepted int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls), r.verified, r.accepted
}

// A webhook answering 500 three times then 200 is delivered once: four
// attempts in the log, each signed and verified by the independent
// verifier, all with the same webhook-id and body.
func TestWebhookRetriedUntilAccepted(t *testing.T) {
	t.Parallel()
	secret := notify.NewSecret()
	rcv := newReceiver(t, secret, 3)
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

	calls, verified, accepted := rcv.counts()
	require.Equal(t, 4, calls)
	require.Equal(t, 4, verified, "every attempt carries a valid signature")
	require.Equal(t, 1, accepted)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for i, h := range rcv.calls {
		require.Equal(t, hook.IdempotencyKey, h.Get("webhook-id"))
		require.Equal(t, string(rcv.bodies[0]), string(rcv.bodies[i]))
	}
	var payload notify.WebhookPayload
	require.NoError(t, json.Unmarshal(rcv.bodies[0], &payload))
	require.Equal(t, "request.waiting", payload.Type)
	require.Equal(t, "analytics-staging", payload.Data.Cluster)
	require.Equal(t, baseURL+"/requests/"+itoa(r.ID), payload.Data.URL)
	require.NotContains(t, string(rcv.bodies[0]), secret)

	// A tampered body fails the independent verifier.
	require.Error(t, verifyStandardWebhook(secret, rcv.calls[0], append([]byte(" "), rcv.bodies[0]...)))
}

// A webhook that never accepts is tried MaxAttempts times, then failed in
// the log; an admin's resend (audited) delivers it once it is fixed.
func TestWebhookFailsThenResent(t *testing.T) {
	t.Parallel()
	secret := notify.NewSecret()
	rcv := newReceiver(t, secret, 1000)
	f := setup(t, options{maxAttempts: 3})
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	e, err := notify.EndpointAdd(ctx, tx, audit.User(itoa(f.dave.UserID), f.dave.Name), audit.Origin{}, f.dave.UserID,
		notify.NewEndpoint{Kind: notify.ChannelWebhook, Name: "cmdb", URL: rcv.URL + "/hook?token=abc"})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	rcv.secret = e.Secret

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

	rcv.mu.Lock()
	rcv.failures = 0
	rcv.mu.Unlock()
	require.NoError(t, f.notify.Resend(ctx, f.river, audit.User(itoa(f.dave.UserID), f.dave.Name), audit.Origin{}, hook.ID))
	require.Eventually(t, func() bool {
		d, err := notify.DeliveryGet(ctx, f.pool, hook.ID)
		require.NoError(t, err)
		return d.State == notify.StateSent
	}, 20*time.Second, 10*time.Millisecond)
	d, err := notify.DeliveryGet(ctx, f.pool, hook.ID)
	require.NoError(t, err)
	require.Equal(t, 4, d.Attempts)
	_, verified, accepted := rcv.counts()
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
	rcv := newReceiver(t, "", 0)
	f := setup(t, options{endpoints: []notify.Endpoint{{Kind: notify.ChannelChat, Name: "ops", URL: rcv.URL + "/services/T0/B0/XXXX", Enabled: true}}})
	r := f.restart(t, f.alice)
	f.settled(t, r.ID, 4)
	require.NoError(t, f.approve(t, f.carol, r))
	f.settled(t, r.ID, 6)

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	require.Len(t, rcv.bodies, 2)
	var first, second map[string]any
	require.NoError(t, json.Unmarshal(rcv.bodies[0], &first))
	require.NoError(t, json.Unmarshal(rcv.bodies[1], &second))
	require.Equal(t, []string{"text"}, keys(first), "the payload Slack and Mattermost both accept")
	text := first["text"].(string)
	require.Contains(t, text, "analytics-staging")
	require.Contains(t, text, "restart_server")
	require.Contains(t, text, baseURL+"/requests/"+itoa(r.ID))
	require.Contains(t, second["text"], "carol Example approved")
}

// An endpoint narrowed to another environment hears nothing of this one.
func TestEndpointNarrowedToAnEnvironment(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, "", 0)
	f := setup(t, options{endpoints: []notify.Endpoint{{Kind: notify.ChannelChat, Name: "prod-only", URL: rcv.URL, Environment: "production", Enabled: true}}})
	r := f.restart(t, f.alice)
	list := f.settled(t, r.ID, 3)
	require.Len(t, list, 3)
	calls, _, _ := rcv.counts()
	require.Zero(t, calls)
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
