package cloudapi

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/telemetry"
)

// newHTTPClient returns the HTTP client used for API and token calls.
//
// Without an override it has its own transport: certificate verification on
// (TLS 1.2 or later), bounded connection pool, timeouts on dialling, the TLS
// handshake, waiting for headers and the whole exchange. An override keeps
// its transport and timeout; either way every request carries the
// User-Agent, and redirects may not leave the original scheme and host
// (unless the override sets its own CheckRedirect).
func newHTTPClient(override *http.Client, timeout time.Duration, userAgent string) *http.Client {
	var c http.Client
	var base http.RoundTripper
	if override != nil {
		c = *override
		base = override.Transport
	}
	if base == nil {
		base = newTransport(timeout)
	}
	c.Transport = userAgentTransport{base: tracedTransport(base), userAgent: userAgent}
	if c.CheckRedirect == nil {
		c.CheckRedirect = sameOriginRedirects
	}
	if c.Timeout == 0 {
		c.Timeout = timeout
	}
	return &c
}

func newTransport(timeout time.Duration) *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   8,
		MaxConnsPerHost:       16,
		IdleConnTimeout:       90 * time.Second,
	}
}

// sameOriginRedirects follows at most five redirects, all to the scheme and
// host of the original request: a bearer token must not travel elsewhere.
func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("cloudapi: stopped after 5 redirects")
	}
	from := via[0].URL
	if req.URL.Scheme != from.Scheme || req.URL.Host != from.Host {
		return fmt.Errorf("cloudapi: refusing redirect from %s://%s to %s://%s", from.Scheme, from.Host, req.URL.Scheme, req.URL.Host)
	}
	return nil
}

// userAgentTransport sets the User-Agent of every request, token requests
// included.
type userAgentTransport struct {
	base      http.RoundTripper
	userAgent string
}

func (t userAgentTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("User-Agent", t.userAgent)
	return t.base.RoundTrip(r)
}

// tracedTransport makes each request, token requests included, a client
// span named "cloudapi METHOD /route" and sends the trace context along
// (telemetry.ClientTransport); without tracing it costs a no-op span.
func tracedTransport(base http.RoundTripper) http.RoundTripper {
	return telemetry.ClientTransport(base, func(r *http.Request) string {
		return "cloudapi " + r.Method + " " + routeOf(r.URL.Path)
	})
}

// routeOf is path with its identifiers replaced by placeholders, so that
// span names stay few: the segment after clusters, servers or history, and
// any other holding a digit (a configured restart route's instance id).
// A token request's path is "token".
func routeOf(path string) string {
	segments := strings.Split(strings.Trim(path, "/"), "/")
	start := slices.Index(segments, "clusters")
	if start < 0 {
		return "token"
	}
	route := segments[start:]
	for i := range route {
		switch {
		case i > 0 && route[i-1] == "clusters":
			route[i] = "{clusterId}"
		case i > 0 && route[i-1] == "servers":
			route[i] = "{instanceId}"
		case i > 0 && route[i-1] == "history":
			route[i] = "{resourceVersion}"
		case strings.ContainsAny(route[i], "0123456789"):
			route[i] = "{id}"
		}
	}
	return "/" + strings.Join(route, "/")
}
