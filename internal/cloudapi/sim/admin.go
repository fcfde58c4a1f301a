package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// The control endpoints (see the package documentation). They are not
// recorded in the call log and ignore faults.
func (s *Server) adminRoutes() {
	s.mux.HandleFunc("GET /_sim/calls", func(w http.ResponseWriter, r *http.Request) {
		s.write(w, r, response{status: http.StatusOK, body: s.Calls()})
	})
	s.mux.HandleFunc("DELETE /_sim/calls", func(w http.ResponseWriter, r *http.Request) {
		s.ResetCalls()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.write(w, r, response{status: http.StatusOK, body: s.Faults()})
	})
	s.mux.HandleFunc("POST /_sim/faults", s.handleAddFaults)
	s.mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST /_sim/tokens/expire", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST /_sim/updates/pause", func(w http.ResponseWriter, r *http.Request) {
		s.PauseUpdates()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST /_sim/updates/resume", func(w http.ResponseWriter, r *http.Request) {
		s.ResumeUpdates()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST /_sim/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleAddFaults takes one Fault or an array of them and answers with the
// faults as added (IDs assigned).
func (s *Server) handleAddFaults(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	var faults []Fault
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '{' {
		faults = make([]Fault, 1)
		err = json.Unmarshal(trimmed, &faults[0])
	} else {
		err = json.Unmarshal(trimmed, &faults)
	}
	if err != nil {
		http.Error(w, "body must be a fault object or an array of them: "+err.Error(), http.StatusBadRequest)
		return
	}
	added := make([]Fault, len(faults))
	for i, f := range faults {
		added[i] = s.InjectFault(f)
	}
	s.write(w, r, response{status: http.StatusCreated, body: added})
}

// Reset forgets every cluster, fault and call (issued tokens stay valid)
// and seeds the demo clusters again when Config.SeedDemo is set.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clusters {
		c.stopTimer()
	}
	clear(s.clusters)
	s.faults = nil
	s.calls = nil
	if s.cfg.SeedDemo {
		s.seedDemo()
	}
	s.persist()
}
