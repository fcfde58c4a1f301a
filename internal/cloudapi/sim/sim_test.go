package sim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// harness is a simulator on a real HTTP server, driven with raw requests:
// these tests cover what the client never sends.
type harness struct {
	sim   *Server
	srv   *httptest.Server
	token string
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	if cfg.StageDuration == 0 {
		cfg.StageDuration = 5 * time.Millisecond
	}
	s, err := New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, s.Close())
	})
	token, err := s.IssueToken(s.cfg.ClientID, time.Hour)
	require.NoError(t, err)
	return &harness{sim: s, srv: srv, token: token}
}

// do sends a request with the harness's token (unless header sets
// Authorization) and returns the status, headers and body.
func (h *harness) do(t *testing.T, method, path, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// create creates a cluster from doc and waits until it has settled.
func (h *harness) create(t *testing.T, doc string) string {
	t.Helper()
	status, _, body := h.do(t, "POST", "/api/v1/clusters", doc)
	require.Equal(t, http.StatusOK, status, body)
	var c cloudapi.Cluster
	require.NoError(t, json.Unmarshal([]byte(body), &c))
	h.settle(t, c.Metadata.UID)
	return c.Metadata.UID
}

func (h *harness) settle(t *testing.T, uid string) {
	require.Eventually(t, func() bool {
		h.sim.mu.Lock()
		defer h.sim.mu.Unlock()
		return h.sim.clusters[uid].Plan == nil
	}, 5*time.Second, time.Millisecond)
}

// errorCode decodes the API's error shape.
func errorCode(t *testing.T, body string) (cloudapi.ErrorCode, []cloudapi.ErrorDetail) {
	t.Helper()
	var e struct {
		Error struct {
			Code    cloudapi.ErrorCode     `json:"code"`
			Details []cloudapi.ErrorDetail `json:"details"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	return e.Error.Code, e.Error.Details
}

const minimalCluster = `{"metadata":{"name":"m"},"spec":{"version":"2024.01","awsInstanceRole":"r",
 "master":{"replicas":1,"instanceType":"t3.small"},"query":{"replicas":1,"instanceType":"t3.small"},
 "data":{"tier1":{"replicas":1,"instanceType":"t3.small"}},"pivot":{"accessMode":"PROXIED"},
 "deepStorage":{"path":"s3://bucket/prefix"}}}`

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{ClientID: "id", ClientSecret: "secret", Org: "acme"})
	tokenURL := h.sim.TokenURL(h.srv.URL)
	require.Equal(t, h.srv.URL+"/auth/realms/acme/protocol/openid-connect/token", tokenURL)

	post := func(target string, form url.Values, basic ...string) (int, map[string]any) {
		req, err := http.NewRequest("POST", target, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if len(basic) == 2 {
			req.SetBasicAuth(basic[0], basic[1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return resp.StatusCode, body
	}
	grant := url.Values{"grant_type": {"client_credentials"}}

	status, body := post(tokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {"id"}, "client_secret": {"secret"}})
	require.Equal(t, http.StatusOK, status)
	require.NotEmpty(t, body["access_token"])
	require.EqualValues(t, 300, body["expires_in"], "five minutes by default")
	require.Equal(t, "Bearer", body["token_type"])

	status, _ = post(tokenURL, grant, "id", "secret")
	require.Equal(t, http.StatusOK, status, "HTTP Basic credentials work too")

	status, body = post(tokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {"id"}, "client_secret": {"nope"}})
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "unauthorized_client", body["error"])

	status, body = post(tokenURL, url.Values{"grant_type": {"password"}}, "id", "secret")
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "unsupported_grant_type", body["error"])

	status, _ = post(strings.Replace(tokenURL, "acme", "other", 1), grant, "id", "secret")
	require.Equal(t, http.StatusNotFound, status)

	for _, c := range h.sim.Calls() {
		require.NotContains(t, c.Body, "secret=secret", "the call log never shows the secret")
	}
}

func TestBearerChecks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{Clients: []OAuthClient{{ID: "viewer", Secret: "v"}}})

	status, header, body := h.do(t, "GET", "/api/v1/clusters", "", "Authorization", "")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, header.Get("WWW-Authenticate"), "Bearer")
	code, _ := errorCode(t, body)
	require.Equal(t, cloudapi.CodeUnauthorized, code)

	expired, err := h.sim.IssueToken(h.sim.cfg.ClientID, -time.Second)
	require.NoError(t, err)
	status, _, _ = h.do(t, "GET", "/api/v1/clusters", "", "Authorization", "Bearer "+expired)
	require.Equal(t, http.StatusUnauthorized, status, "expired")

	viewer, err := h.sim.IssueToken("viewer", time.Hour)
	require.NoError(t, err)
	status, _, body = h.do(t, "GET", "/api/v1/clusters", "", "Authorization", "Bearer "+viewer)
	require.Equal(t, http.StatusForbidden, status)
	code, _ = errorCode(t, body)
	require.Equal(t, cloudapi.CodeUnauthorized, code, "403 carries code Unauthorized too (documented)")

	_, err = h.sim.IssueToken("nobody", time.Hour)
	require.Error(t, err)
}

func TestRequestsTheClientNeverSends(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	uid := h.create(t, minimalCluster)
	path := "/api/v1/clusters/" + uid

	t.Run("PUT without spec.pivot.accessMode is a 500 (documented)", func(t *testing.T) {
		doc := strings.Replace(minimalCluster, `"pivot":{"accessMode":"PROXIED"},`, "", 1)
		status, _, body := h.do(t, "PUT", path, doc)
		require.Equal(t, http.StatusInternalServerError, status, body)
		status, _, _ = h.do(t, "PUT", path+"?dryRun=true", doc)
		require.Equal(t, http.StatusInternalServerError, status)
	})

	t.Run("PATCH needs the merge-patch media type", func(t *testing.T) {
		status, _, _ := h.do(t, "PATCH", path, `{}`)
		require.Equal(t, http.StatusUnsupportedMediaType, status)
		status, _, _ = h.do(t, "PATCH", path, `{}`, "Content-Type", "application/merge-patch+json; charset=utf-8")
		require.Equal(t, http.StatusOK, status)
	})

	t.Run("bodies that are not a JSON object", func(t *testing.T) {
		for _, body := range []string{``, `[]`, `{`, `null`, `{"a":1} x`} {
			status, _, reply := h.do(t, "POST", "/api/v1/clusters", body)
			require.Equal(t, http.StatusBadRequest, status, body)
			code, _ := errorCode(t, reply)
			require.Equal(t, cloudapi.CodeBadArgument, code)
			status, _, _ = h.do(t, "PATCH", path, body, "Content-Type", "application/merge-patch+json")
			require.Equal(t, http.StatusBadRequest, status, body)
		}
	})

	t.Run("pretty indents", func(t *testing.T) {
		_, _, compact := h.do(t, "GET", path, "")
		_, _, pretty := h.do(t, "GET", path+"?pretty=true", "")
		require.NotContains(t, compact, "\n  ")
		require.Contains(t, pretty, "\n  \"metadata\": {")
		require.JSONEq(t, compact, pretty)
	})

	t.Run("status and uid in a body are ignored", func(t *testing.T) {
		status, _, body := h.do(t, "PATCH", path, `{"metadata":{"uid":"forged"},"status":{"state":"STOPPED"}}`, "Content-Type", "application/merge-patch+json")
		require.Equal(t, http.StatusOK, status, body)
		var c cloudapi.Cluster
		require.NoError(t, json.Unmarshal([]byte(body), &c))
		require.Equal(t, uid, c.Metadata.UID)
		require.Equal(t, cloudapi.StateStarted, c.Status.State)
	})

	t.Run("unknown routes answer in the API's error shape", func(t *testing.T) {
		status, _, body := h.do(t, "GET", "/api/v1/nodes", "")
		require.Equal(t, http.StatusNotFound, status)
		code, _ := errorCode(t, body)
		require.Equal(t, cloudapi.CodeNotFound, code)
		status, _, _ = h.do(t, "GET", path+"/history/abc", "")
		require.Equal(t, http.StatusNotFound, status)
	})
}

func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	admin := func(method, path, body string) (int, string) {
		status, _, reply := h.do(t, method, "/_sim/"+path, body)
		return status, reply
	}

	status, reply := admin("POST", "faults", `{"operation":"listClusters","status":503,"times":1,"retryAfter":"2s","latency":"1ms"}`)
	require.Equal(t, http.StatusCreated, status, reply)
	require.JSONEq(t, `[{"id":1,"operation":"listClusters","status":503,"times":1,"retryAfter":"2s","latency":"1ms"}]`, reply)
	status, reply = admin("GET", "faults", "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, reply, `"latency":"1ms"`)

	status, header, _ := h.do(t, "GET", "/api/v1/clusters", "")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "2", header.Get("Retry-After"))
	status, _, _ = h.do(t, "GET", "/api/v1/clusters", "")
	require.Equal(t, http.StatusOK, status, "the fault was for one call")

	_, reply = admin("GET", "calls", "")
	var calls []Call
	require.NoError(t, json.Unmarshal([]byte(reply), &calls))
	require.Len(t, calls, 2)
	require.Equal(t, "fault 1: latency 1ms, status 503", calls[0].Fault)
	require.Equal(t, []int{503, 200}, []int{calls[0].Status, calls[1].Status})

	status, _ = admin("POST", "faults", `[{"operation":"*","drop":true},{"operation":"token","status":500}]`)
	require.Equal(t, http.StatusCreated, status)
	require.Len(t, h.sim.Faults(), 2)
	status, _ = admin("DELETE", "faults", "")
	require.Equal(t, http.StatusNoContent, status)
	require.Empty(t, h.sim.Faults())
	status, _ = admin("POST", "faults", `{"latency":"soon"}`)
	require.Equal(t, http.StatusBadRequest, status)

	status, _ = admin("DELETE", "calls", "")
	require.Equal(t, http.StatusNoContent, status)
	require.Empty(t, h.sim.Calls())

	h.create(t, minimalCluster)
	status, _ = admin("POST", "reset", "")
	require.Equal(t, http.StatusNoContent, status)
	_, _, reply = h.do(t, "GET", "/api/v1/clusters", "")
	require.JSONEq(t, `[]`, reply)

	status, _ = admin("POST", "tokens/expire", "")
	require.Equal(t, http.StatusNoContent, status)
	status, _, _ = h.do(t, "GET", "/api/v1/clusters", "")
	require.Equal(t, http.StatusUnauthorized, status)
}

func TestFaultKinds(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.create(t, minimalCluster)

	t.Run("error rate", func(t *testing.T) {
		h.sim.InjectFault(Fault{Operation: cloudapi.OpListClusters, ErrorRate: 0.5})
		failed := 0
		for range 200 {
			if status, _, _ := h.do(t, "GET", "/api/v1/clusters", ""); status == http.StatusServiceUnavailable {
				failed++
			}
		}
		require.InDelta(t, 100, failed, 40)
		h.sim.ClearFaults()
	})

	t.Run("apply then drop changes state and answers nothing", func(t *testing.T) {
		h.sim.InjectFault(Fault{Operation: cloudapi.OpCreateCluster, ApplyThenDrop: true, Times: 1})
		req, err := http.NewRequest("POST", h.srv.URL+"/api/v1/clusters", strings.NewReader(minimalCluster))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+h.token)
		_, err = http.DefaultClient.Do(req)
		require.Error(t, err)
		calls := h.sim.Calls()
		last := calls[len(calls)-1]
		require.True(t, last.Mutated)
		require.Zero(t, last.Status)
		require.NotEmpty(t, last.ClusterID)
		_, _, body := h.do(t, "GET", "/api/v1/clusters/"+last.ClusterID, "")
		require.Contains(t, body, `"name":"m"`)
	})

	t.Run("a held answer is lost when the caller gives up, the change is not", func(t *testing.T) {
		h.sim.InjectFault(Fault{Operation: cloudapi.OpCreateCluster, HoldAnswer: time.Minute, Times: 1})
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "POST", h.srv.URL+"/api/v1/clusters", strings.NewReader(strings.Replace(minimalCluster, `"m"`, `"held"`, 1)))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+h.token)
		_, err = http.DefaultClient.Do(req)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		calls := h.sim.Calls()
		last := calls[len(calls)-1]
		require.True(t, last.Mutated)
		require.Contains(t, last.Fault, "answer held 1m0s")
		_, _, body := h.do(t, "GET", "/api/v1/clusters/"+last.ClusterID, "")
		require.Contains(t, body, `"name":"held"`)
	})
}

func TestStateFileKeepsClustersAcrossRestarts(t *testing.T) {
	t.Parallel()
	file := t.TempDir() + "/state.json"
	first := newHarness(t, Config{StateFile: file, SeedDemo: true, StageDuration: time.Hour})
	status, _, body := first.do(t, "POST", "/api/v1/clusters", minimalCluster)
	require.Equal(t, http.StatusOK, status, body)
	var created cloudapi.Cluster
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	uid := created.Metadata.UID
	first.sim.finishAll(t)
	status, _, body = first.do(t, "PATCH", "/api/v1/clusters/"+uid, `{"spec":{"query":{"replicas":2}}}`, "Content-Type", "application/merge-patch+json")
	require.Equal(t, http.StatusOK, status, body)
	require.NoError(t, first.sim.Close()) // a change is still running

	second, err := New(Config{StateFile: file, SeedDemo: true})
	require.NoError(t, err)
	defer second.Close()
	second.mu.Lock()
	defer second.mu.Unlock()
	require.Len(t, second.clusters, len(demoClusters)+1, "loaded, not seeded again")
	c := second.clusters[uid]
	require.Equal(t, cloudapi.StateStarted, c.Status.State, "the running change was completed")
	require.Nil(t, c.Status.UpdateState)
	require.EqualValues(t, 1, c.Status.ResourceVersion)
	require.Len(t, c.History, 1)
	require.Equal(t, 2, countServers(c.Servers, groupQuery))
}

// finishAll completes every running change at once.
func (s *Server) finishAll(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clusters {
		s.finishNow(c)
	}
}

func TestSeedDemo(t *testing.T) {
	t.Parallel()
	s, err := New(Config{SeedDemo: true})
	require.NoError(t, err)
	defer s.Close()
	s.mu.Lock()
	defer s.mu.Unlock()

	byName := map[string]*cluster{}
	for _, c := range s.clusters {
		doc, err := decodeDocument(c.Doc)
		require.NoError(t, err)
		require.Empty(t, s.validate(doc), "demo clusters are valid")
		byName[lookup(doc, "metadata.name").(string)] = c
		require.Nil(t, c.Plan, "seeded settled")
	}
	require.Len(t, byName, 3)
	prod := byName["analytics-prod"]
	require.Equal(t, cloudapi.StateStarted, prod.Status.State)
	require.EqualValues(t, 1, prod.Status.ResourceVersion)
	require.Equal(t, 4, countServers(prod.Servers, groupTier1))
	require.Contains(t, string(prod.History[0]), `"replicas":3`)
	dev := byName["clickstream-dev"]
	require.Equal(t, cloudapi.StateStopped, dev.Status.State)
	require.Empty(t, dev.Servers)
}

func TestCloseStopsEverything(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{StageDuration: time.Hour})
	status, _, _ := h.do(t, "POST", "/api/v1/clusters", minimalCluster)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, h.sim.Close())
	require.NoError(t, h.sim.Close(), "idempotent")
	h.sim.mu.Lock()
	for _, c := range h.sim.clusters {
		require.Nil(t, c.timer)
	}
	h.sim.mu.Unlock()
	status, _, _ = h.do(t, "GET", "/api/v1/clusters", "")
	require.Equal(t, http.StatusServiceUnavailable, status)
}

func TestConfig(t *testing.T) {
	t.Parallel()
	_, err := New(Config{ClientID: "only-id"})
	require.Error(t, err)
	_, err = New(Config{Clients: []OAuthClient{{ID: "x"}}})
	require.Error(t, err)

	s, err := New(Config{})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, "http://h:1/api/v1", s.APIURL("http://h:1/"))
	require.Equal(t, 5*time.Minute, s.cfg.TokenTTL)
}
