package sim

import (
	"time"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Call is one request the simulator received: the oracle of fault tests
// ("every approved change applied exactly once"). Count the calls with
// Mutated set to know how many changes took effect, whatever the client
// saw. A call is recorded when it is handled: a late landing (see
// Fault.LateLanding) appears only once it has landed, after calls that
// arrived later.
type Call struct {
	Time      time.Time          `json:"time"`
	Method    string             `json:"method"`
	Path      string             `json:"path"` // with the query string
	Operation cloudapi.Operation `json:"operation"`
	ClusterID string             `json:"clusterId,omitempty"`
	Body      string             `json:"body,omitempty"` // token requests: secret redacted
	// Status is the HTTP status sent; 0 when the connection was dropped,
	// or when the client of a late landing had gone when it landed.
	Status int `json:"status"`
	// Mutated is true when the call changed state (created, changed,
	// deleted or restarted something), even if its answer was dropped.
	Mutated bool `json:"mutated"`
	// Fault describes the injected fault that met this call, if any.
	Fault string `json:"fault,omitempty"`
	// AppliedAt is when a late landing was handled (Time is when it
	// arrived); zero for other calls and for a late landing abandoned by
	// Close.
	AppliedAt time.Time `json:"appliedAt,omitzero"`
}

// maxCalls bounds the call log of a long-running simulator; the oldest
// calls are forgotten first.
const maxCalls = 10000

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) >= maxCalls {
		s.calls = append(s.calls[:0], s.calls[len(s.calls)-maxCalls+1:]...)
	}
	s.calls = append(s.calls, c)
}

// Calls returns the call log in the order calls were recorded, oldest
// first (control endpoints excluded).
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// ResetCalls empties the call log.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}
