package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Server is the simulated Cloud Manager API. Create it with New, serve it
// as an http.Handler and Close it to stop its timers and save its state.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux

	done     chan struct{}  // closed by Close
	landings sync.WaitGroup // late landings still to come (see landLate)

	mu       sync.Mutex
	closed   bool
	paused   bool                // see PauseUpdates
	clusters map[string]*cluster // by uid
	tokens   map[string]issuedToken
	faults   []*Fault
	nextID   int // of faults
	calls    []Call
	ipSeq    int // source of private addresses
}

const apiPrefix = "/api/v1"

// New returns a Server for cfg, loading cfg.StateFile when it exists and
// seeding demo clusters when asked and there is nothing to load.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		done:     make(chan struct{}),
		clusters: map[string]*cluster{},
		tokens:   map[string]issuedToken{},
	}
	if err := s.routes(); err != nil {
		return nil, err
	}
	loaded, err := s.load()
	if err != nil {
		return nil, err
	}
	if !loaded && cfg.SeedDemo {
		s.mu.Lock()
		s.seedDemo()
		s.persist()
		s.mu.Unlock()
	}
	return s, nil
}

// TokenURL is the token endpoint of a simulator served at baseURL (the
// scheme and host, e.g. an httptest server's URL), mirroring Imply's
// Keycloak path (BEHAVIOUR.md §2, inferred).
func (s *Server) TokenURL(baseURL string) string {
	return strings.TrimRight(baseURL, "/") + "/auth/realms/" + s.cfg.Org + "/protocol/openid-connect/token"
}

// APIURL is the API root (cloudapi.Config.BaseURL) of a simulator served
// at baseURL.
func (s *Server) APIURL(baseURL string) string {
	return strings.TrimRight(baseURL, "/") + apiPrefix
}

// ServeHTTP serves the token endpoint, the API and the control endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Close stops every running update's timer and saves the state file. The
// server answers 503 afterwards. Late landings still waiting are abandoned:
// they never take effect, their clients (if still there) get 503, and the
// call log shows them unapplied; one already being applied finishes
// before Close returns, so nothing changes after it. Calling Close again
// does nothing.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.landings.Wait()

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clusters {
		c.stopTimer()
	}
	return s.save()
}

// routes registers every route; it fails only on a Config.RestartRoute
// that collides with another route.
func (s *Server) routes() error {
	s.mux = http.NewServeMux()
	s.mux.Handle("POST /auth/realms/{org}/protocol/openid-connect/token", s.endpoint(OpToken, false, s.handleToken))

	api := func(pattern string, op cloudapi.Operation, h handler) {
		method, path, _ := strings.Cut(pattern, " ")
		s.mux.Handle(method+" "+apiPrefix+path, s.endpoint(op, true, h))
	}
	api("GET /clusters", cloudapi.OpListClusters, s.handleList)
	api("POST /clusters", cloudapi.OpCreateCluster, s.handleCreate)
	api("GET /clusters/{clusterId}", cloudapi.OpGetCluster, s.handleGet)
	api("PUT /clusters/{clusterId}", cloudapi.OpReplaceCluster, s.handleReplace)
	api("PATCH /clusters/{clusterId}", cloudapi.OpUpdateCluster, s.handleUpdate)
	api("DELETE /clusters/{clusterId}", cloudapi.OpDeleteCluster, s.handleDelete)
	api("GET /clusters/{clusterId}/history/{resourceVersion}", cloudapi.OpGetClusterVersion, s.handleHistory)
	// The real restart route is unknown (BEHAVIOUR.md §1): one route, the
	// configured one, unless the aliases are asked for.
	restart := []string{s.cfg.RestartRoute}
	if s.cfg.RestartAliases {
		for _, alias := range restartAliases {
			if alias != s.cfg.RestartRoute {
				restart = append(restart, alias)
			}
		}
	}
	for _, route := range restart {
		if err := registerSafely(func() { api(route, cloudapi.OpRestartServer, s.handleRestart) }); err != nil {
			return fmt.Errorf("sim: restart route %q: %v", route, err)
		}
	}
	s.mux.Handle(apiPrefix+"/", s.endpoint("unknown", true, func(*http.Request, []byte) response {
		return errorReply(http.StatusNotFound, cloudapi.CodeNotFound, "No such resource")
	}))

	s.adminRoutes()
	return nil
}

// registerSafely turns the panic of http.ServeMux on an invalid or
// conflicting pattern into an error.
func registerSafely(register func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	register()
	return nil
}

// OpToken is the Operation of token requests, in the call log and in
// faults (e.g. Fault{Operation: OpToken, Status: 503}: token endpoint down).
const OpToken cloudapi.Operation = "token"

// handler serves one operation: it gets the request and its body and
// returns the reply, which the endpoint wrapper records and writes.
type handler func(r *http.Request, body []byte) response

// response is a reply not yet written.
type response struct {
	status    int
	body      any // JSON-encoded; nil for no body
	header    http.Header
	mutated   bool   // the call changed the simulator's state
	clusterID string // the cluster concerned, when not in the path
}

// maxRequestBody bounds request bodies; a longer one gets 413.
const maxRequestBody = 1 << 20

// CodePayloadTooLarge is the error code of the 413 answered to a request
// body over 1 MiB (inferred: the API documents neither the limit nor the
// code).
const CodePayloadTooLarge cloudapi.ErrorCode = "PayloadTooLarge"

// endpoint wraps h with what every call goes through: the call log, fault
// injection, the bearer check when bearer is set (before h, or on arrival
// for a late landing) and writing the reply.
func (s *Server) endpoint(op cloudapi.Operation, bearer bool, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		call := Call{
			Time:      time.Now().UTC(),
			Method:    r.Method,
			Path:      r.URL.RequestURI(),
			Operation: op,
			ClusterID: r.PathValue("clusterId"),
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
		if err != nil {
			resp := errorReply(http.StatusBadRequest, cloudapi.CodeBadArgument, "Request body is unreadable")
			if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
				resp = errorReply(http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
					fmt.Sprintf("Request body is larger than %d bytes", maxRequestBody))
			}
			s.finish(w, r, call, resp, nil)
			return
		}
		call.Body = string(body)
		if op == OpToken {
			call.Body = redactForm(body)
		}
		denied := func() *response { // the bearer check, when the route needs one
			if !bearer {
				return nil
			}
			return s.authorize(r)
		}

		fault := s.takeFault(op, r)
		if fault != nil {
			call.Fault = fault.String()
			if !sleep(r, fault.Latency) {
				s.record(call)
				return
			}
		}
		var resp response
		switch {
		case s.isClosed():
			resp = shutDownReply()
		case fault != nil && fault.LateLanding > 0:
			s.landLate(w, r, call, fault, denied, h, body)
			return
		case fault != nil && fault.Drop:
			s.record(call)
			dropConnection(w)
			return
		case fault != nil && fault.Status != 0:
			resp = fault.reply(op)
		default:
			if refusal := denied(); refusal != nil {
				resp = *refusal
			} else {
				resp = h(r, body)
			}
		}
		s.finish(w, r, call, resp, fault)
	})
}

// finish records a handled call and answers it, as fault's ApplyThenDrop
// and HoldAnswer say (fault may be nil).
func (s *Server) finish(w http.ResponseWriter, r *http.Request, call Call, resp response, fault *Fault) {
	call.Status, call.Mutated = resp.status, resp.mutated
	if call.ClusterID == "" {
		call.ClusterID = resp.clusterID
	}
	if fault != nil && fault.ApplyThenDrop {
		call.Status = 0
		s.record(call)
		dropConnection(w)
		return
	}
	if fault != nil && fault.HoldAnswer > 0 {
		// The change is made; the answer waits (a caller that dies in
		// the meantime never gets it).
		s.record(call)
		if sleep(r, fault.HoldAnswer) {
			s.write(w, r, resp)
		}
		return
	}
	s.record(call)
	s.log.Debug("sim: call", "op", call.Operation, "method", call.Method, "path", r.URL.Path, "status", resp.status, "mutated", resp.mutated)
	s.write(w, r, resp)
}

// landLate serves a call that meets a LateLanding fault. The bearer check
// is made on arrival; then the call is handled f.LateLanding later, in a
// goroutine of its own and with a copy of the request that outlives the
// client (a gateway that does not pass on disconnects). Meanwhile the
// client gets the fault's Status, or a dropped connection with Drop, or
// else waits for the real answer, which then meets ApplyThenDrop and
// HoldAnswer as usual. The call is recorded once, when it lands, with
// AppliedAt set; Close abandons landings still waiting (see Close).
func (s *Server) landLate(w http.ResponseWriter, r *http.Request, call Call, f *Fault, denied func() *response, h handler, body []byte) {
	if refusal := denied(); refusal != nil {
		s.finish(w, r, call, *refusal, nil)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.finish(w, r, call, shutDownReply(), nil)
		return
	}
	s.landings.Add(1)
	s.mu.Unlock()

	type landing struct {
		resp response
		at   time.Time
	}
	landed := make(chan landing) // unbuffered: a send succeeds only if the client still waits
	waiting := !f.Drop && f.Status == 0
	detached := r.Clone(context.WithoutCancel(r.Context()))
	gone := r.Context().Done()
	go func(call Call) {
		defer s.landings.Done()
		resp, at := s.land(detached, f.LateLanding, h, body)
		if waiting {
			select {
			case landed <- landing{resp, at}:
				return // the handler records and answers
			case <-gone:
			}
		}
		call.AppliedAt, call.Mutated = at, resp.mutated
		call.Status = f.Status // what the client got: the fault's status, or nothing
		if call.ClusterID == "" {
			call.ClusterID = resp.clusterID
		}
		s.record(call)
	}(call)

	switch {
	case f.Drop:
		dropConnection(w)
	case f.Status != 0:
		s.write(w, r, f.reply(call.Operation))
	default:
		select {
		case l := <-landed:
			call.AppliedAt = l.at
			s.finish(w, r, call, l.resp, f)
		case <-gone:
		}
	}
}

// land waits d, then handles the call, unless the simulator closes first:
// then the call is not handled and the reply is a 503 (at is zero).
func (s *Server) land(r *http.Request, d time.Duration, h handler, body []byte) (resp response, at time.Time) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.done:
		return shutDownReply(), time.Time{}
	}
	if s.isClosed() {
		return shutDownReply(), time.Time{}
	}
	return h(r, body), time.Now().UTC()
}

func shutDownReply() response {
	return errorReply(http.StatusServiceUnavailable, "Unavailable", "The simulator is shut down")
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// write sends resp as JSON, indented when the query has pretty=true.
func (s *Server) write(w http.ResponseWriter, r *http.Request, resp response) {
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	if resp.body == nil {
		w.WriteHeader(resp.status)
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if r.URL.Query().Get("pretty") == "true" {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(resp.body); err != nil {
		s.log.Error("sim: encode reply", "err", err)
		http.Error(w, "encode reply", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.status)
	_, _ = w.Write(buf.Bytes())
}

// sleep waits d, or until the client gives up; it reports whether the
// request is still wanted.
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // HTTP/2: abort the stream
}

// errorReply is a reply in the API's documented error shape.
func errorReply(status int, code cloudapi.ErrorCode, message string, details ...cloudapi.ErrorDetail) response {
	return response{status: status, body: errorBody(code, message, details)}
}

func errorBody(code cloudapi.ErrorCode, message string, details []cloudapi.ErrorDetail) any {
	type body struct {
		Code    cloudapi.ErrorCode     `json:"code"`
		Message string                 `json:"message"`
		Details []cloudapi.ErrorDetail `json:"details,omitempty"`
	}
	return map[string]body{"error": {Code: code, Message: message, Details: details}}
}
