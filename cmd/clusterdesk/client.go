package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// client calls the portal's API with the token.
type client struct {
	base, token string
	hc          *http.Client
	userAgent   string
}

func newClient(s settings) *client {
	return &client{base: s.url + "/api/v1", token: s.token, hc: &http.Client{Timeout: 2 * time.Minute},
		userAgent: "clusterdesk/" + version}
}

// problem is the API's error document (RFC 9457).
type problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Errors []struct {
		Target  string `json:"target"`
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (p *problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", p.Status, cmpOr(p.Code, p.Title))
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	for _, e := range p.Errors {
		fmt.Fprintf(&b, "\n  %s: %s", e.Target, e.Message)
	}
	return b.String()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// do sends method path with body as JSON and decodes a 2xx answer into
// out (when not nil); any other answer is a *problem.
func (c *client) do(ctx context.Context, method, path string, body, out any, header ...string) (http.Header, error) {
	resp, err := c.send(ctx, method, path, body, header...)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return nil, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

// send is do without decoding: the caller reads and closes the body of a
// 2xx answer.
func (c *client) send(ctx context.Context, method, path string, body any, header ...string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	p := &problem{Status: resp.StatusCode}
	if json.Unmarshal(raw, p) != nil || p.Code == "" {
		p.Title = http.StatusText(resp.StatusCode)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		p.Detail += " (retry after " + resp.Header.Get("Retry-After") + " s)"
	}
	return nil, p
}
