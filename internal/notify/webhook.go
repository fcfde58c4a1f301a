package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebhookPayload is the JSON body of a generic webhook, in the Standard
// Webhooks shape: a type, the event's time and the data.
type WebhookPayload struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      WebhookData `json:"data"`
}

// WebhookData is what the webhook says of the request.
type WebhookData struct {
	EventID     int64  `json:"event_id"`
	Event       Kind   `json:"event"`
	RequestID   int64  `json:"request_id"`
	Revision    int    `json:"revision"`
	URL         string `json:"url"`
	Cluster     string `json:"cluster"`
	Environment string `json:"environment"`
	Kind        string `json:"kind"`
	Plan        string `json:"plan"`
	Requester   string `json:"requester"`
	Actor       string `json:"actor"`
	Comment     string `json:"comment,omitempty"`
	Summary     string `json:"summary"`
}

// webhookBody is the body of message m; the same bytes on every attempt.
func webhookBody(m Message) ([]byte, error) {
	return json.Marshal(WebhookPayload{Type: "request." + string(m.Kind), Timestamp: m.At.UTC(), Data: WebhookData{
		EventID: m.ID, Event: m.Kind, RequestID: m.RequestID, Revision: m.Revision, URL: m.URL, Cluster: m.Cluster,
		Environment: m.Environment, Kind: m.RequestKind, Plan: m.Plan, Requester: m.Requester, Actor: m.Actor,
		Comment: m.Comment, Summary: m.Headline(),
	}})
}

func (s *Service) postWebhook(ctx context.Context, e Endpoint, d Delivery) error {
	body, err := webhookBody(d.Message)
	if err != nil {
		return err
	}
	key, err := decodeSecret(e.Secret)
	if err != nil {
		return fmt.Errorf("endpoint %s: %w", e.Name, err)
	}
	ts := time.Now().Unix()
	h := http.Header{}
	h.Set("webhook-id", d.IdempotencyKey)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", Sign(key, d.IdempotencyKey, ts, body))
	return s.post(ctx, e, body, h)
}

// Sign is the webhook-signature header of a message: "v1," and the
// base64 of HMAC-SHA256 with key over "id.timestamp.body".
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, timestamp)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// decodeSecret returns the key of a whsec_ secret.
func decodeSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, fmt.Errorf("%w: a webhook secret starts with whsec_", ErrInvalid)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("%w: a webhook secret is whsec_ and at least 16 bytes in base64", ErrInvalid)
	}
	return key, nil
}
