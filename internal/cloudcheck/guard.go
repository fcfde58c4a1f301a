package cloudcheck

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// probeInstance is the instance id of the restart probe: no server can
// have it, so the probe can restart nothing.
const probeInstance = "clusterdesk-cloud-check-no-such-server"

// ReadOnly is an http.RoundTripper that lets through only what cannot
// change a cluster: GET, calls with dryRun=true, the token request (a POST
// to tokenURL) and the restart probe (an instance that cannot exist). Any
// other request is refused before it leaves the process. It also keeps
// the bearer token the client last sent, for the probes that have no
// client method.
type ReadOnly struct {
	Next     http.RoundTripper
	TokenURL string

	mu    sync.Mutex
	token string
}

// RoundTrip sends req if it is read-only, and refuses it otherwise.
func (g *ReadOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := g.allowed(req); err != nil {
		return nil, err
	}
	if auth := req.Header.Get("Authorization"); auth != "" {
		g.mu.Lock()
		g.token = auth
		g.mu.Unlock()
	}
	next := g.Next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(req)
}

func (g *ReadOnly) allowed(req *http.Request) error {
	switch {
	case req.Method == http.MethodGet:
		return nil
	case req.URL.Query().Get("dryRun") == "true":
		return nil
	case req.Method == http.MethodPost && g.TokenURL != "" && strings.TrimRight(req.URL.String(), "/") == strings.TrimRight(g.TokenURL, "/"):
		return nil
	}
	return fmt.Errorf("cloudcheck: refused %s %s: the check sends only GET and dryRun=true", req.Method, req.URL.Path)
}

func (g *ReadOnly) authorization() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.token
}
