package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// ChatPayload is what a Slack-compatible incoming webhook is sent: Slack
// and Mattermost both take "text" (with *bold* and bare links).
type ChatPayload struct {
	Text string `json:"text"`
}

func (s *Service) postChat(ctx context.Context, e Endpoint, m Message) error {
	body, err := json.Marshal(ChatPayload{Text: m.ChatText()})
	if err != nil {
		return err
	}
	return s.post(ctx, e, body, nil)
}

// post sends body to e and wants a 2xx answer. Its errors name the
// endpoint's host, never its URL.
func (s *Service) post(ctx context.Context, e Endpoint, body []byte, headers http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post to %s: invalid address", e.Host())
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Clusterdesk-Notify/1")
	for k, v := range headers {
		req.Header[k] = v
	}
	resp, err := s.cfg.HTTP.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("post to %s: %w", e.Host(), err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post to %s: HTTP %d: %s", e.Host(), resp.StatusCode, bytes.TrimSpace(answer))
	}
	return nil
}
