package sim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Fault makes the simulator misbehave on matching calls. A call meets at
// most one fault: the first active one that matches (Operation, DryRun and
// ClusterID; in the order they were added) and, with ErrorRate, wins its
// draw.
//
// Over HTTP a fault is JSON with the field names below; durations are
// strings such as "250ms".
type Fault struct {
	// ID is assigned by InjectFault.
	ID int `json:"id"`
	// Operation is an operationId (e.g. "updateCluster"), "token" for the
	// token endpoint, or "" (or "*") for every API operation.
	Operation cloudapi.Operation `json:"operation,omitempty"`
	// DryRun, when set, restricts the fault to dry runs (true: calls with
	// dryRun=true in the query) or to calls that are not (false).
	DryRun *bool `json:"dryRun,omitempty"`
	// ClusterID, when set, restricts the fault to calls on that cluster
	// (the clusterId of the path: creates and lists never match).
	ClusterID string `json:"clusterId,omitempty"`
	// Times is how many calls the fault affects; 0 means until cleared.
	Times int `json:"times,omitempty"`

	// Latency delays the call before anything else happens.
	Latency time.Duration `json:"-"`
	// Status answers with this HTTP status (in the endpoint's error shape)
	// instead of handling the call.
	Status int `json:"status,omitempty"`
	// RetryAfter is sent as the Retry-After header (whole seconds) with
	// Status.
	RetryAfter time.Duration `json:"-"`
	// HoldAnswer handles the call (changing state) and holds the answer
	// back this long: a caller killed meanwhile made the change but never
	// learnt it.
	HoldAnswer time.Duration `json:"-"`
	// Drop closes the connection without an answer, before handling.
	Drop bool `json:"drop,omitempty"`
	// ApplyThenDrop handles the call (changing state) and then closes the
	// connection without an answer: the ambiguous outcome.
	ApplyThenDrop bool `json:"applyThenDrop,omitempty"`
	// LateLanding handles the call this long after it arrived (after
	// Latency), whether or not the client is still there: a gateway that
	// does not pass on disconnects. A client that waits gets the real
	// answer then; with Status it gets that status at once, with Drop a
	// closed connection at once, and the call still lands. The call log
	// records the call when it lands, with Call.AppliedAt.
	LateLanding time.Duration `json:"-"`
	// ErrorRate, between 0 and 1, is the chance that a matching call is
	// affected; 0 means always. With ErrorRate and no Status, Drop,
	// ApplyThenDrop or LateLanding the affected calls get 503.
	ErrorRate float64 `json:"errorRate,omitempty"`
}

// InjectFault adds f and returns it with its ID.
func (s *Server) InjectFault(f Fault) Fault {
	if f.Operation == "*" {
		f.Operation = ""
	}
	if f.ErrorRate > 0 && f.Status == 0 && !f.Drop && !f.ApplyThenDrop && f.LateLanding == 0 {
		f.Status = http.StatusServiceUnavailable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	f.ID = s.nextID
	s.faults = append(s.faults, &f)
	return f
}

// Faults returns the active faults; Times shows the calls each has left.
func (s *Server) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, len(s.faults))
	for i, f := range s.faults {
		out[i] = *f
	}
	return out
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault picks the fault for one call r of op and counts it down.
func (s *Server) takeFault(op cloudapi.Operation, r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !f.matches(op, r) || (f.ErrorRate > 0 && rand.Float64() >= f.ErrorRate) {
			continue
		}
		picked := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return &picked
	}
	return nil
}

// matches reports whether the call r of op is one the fault is for.
func (f *Fault) matches(op cloudapi.Operation, r *http.Request) bool {
	switch {
	case f.Operation == "" && op == OpToken, f.Operation != "" && f.Operation != op:
		return false
	case f.DryRun != nil && *f.DryRun != flag(r, "dryRun"):
		return false
	case f.ClusterID != "" && f.ClusterID != r.PathValue("clusterId"):
		return false
	}
	return true
}

// reply is the injected answer for an operation.
func (f *Fault) reply(op cloudapi.Operation) response {
	var resp response
	text := http.StatusText(f.Status)
	if op == OpToken {
		resp = oauthError(f.Status, "temporarily_unavailable", "Injected fault: "+text)
	} else {
		resp = errorReply(f.Status, cloudapi.ErrorCode(strings.ReplaceAll(text, " ", "")), "Injected fault: "+text)
	}
	if f.RetryAfter > 0 {
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		resp.header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
	}
	return resp
}

// String describes the fault for the call log.
func (f *Fault) String() string {
	var parts []string
	if f.Latency > 0 {
		parts = append(parts, "latency "+f.Latency.String())
	}
	switch {
	case f.Drop:
		parts = append(parts, "drop")
	case f.Status != 0:
		parts = append(parts, "status "+strconv.Itoa(f.Status))
	}
	if f.HoldAnswer > 0 {
		parts = append(parts, "answer held "+f.HoldAnswer.String())
	}
	if f.ApplyThenDrop {
		parts = append(parts, "apply then drop")
	}
	if f.LateLanding > 0 {
		parts = append(parts, "late landing "+f.LateLanding.String())
	}
	return fmt.Sprintf("fault %d: %s", f.ID, strings.Join(parts, ", "))
}

// MarshalJSON writes durations as strings such as "250ms".
func (f Fault) MarshalJSON() ([]byte, error) {
	type plain Fault
	out := struct {
		plain
		Latency     string `json:"latency,omitempty"`
		RetryAfter  string `json:"retryAfter,omitempty"`
		HoldAnswer  string `json:"holdAnswer,omitempty"`
		LateLanding string `json:"lateLanding,omitempty"`
	}{plain: plain(f)}
	if f.Latency > 0 {
		out.Latency = f.Latency.String()
	}
	if f.RetryAfter > 0 {
		out.RetryAfter = f.RetryAfter.String()
	}
	if f.HoldAnswer > 0 {
		out.HoldAnswer = f.HoldAnswer.String()
	}
	if f.LateLanding > 0 {
		out.LateLanding = f.LateLanding.String()
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads durations written as strings such as "250ms".
func (f *Fault) UnmarshalJSON(data []byte) error {
	type plain Fault
	in := struct {
		*plain
		Latency     string `json:"latency"`
		RetryAfter  string `json:"retryAfter"`
		HoldAnswer  string `json:"holdAnswer"`
		LateLanding string `json:"lateLanding"`
	}{plain: (*plain)(f)}
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	var err error
	if f.Latency, err = parseDuration(in.Latency); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	if f.RetryAfter, err = parseDuration(in.RetryAfter); err != nil {
		return fmt.Errorf("retryAfter: %w", err)
	}
	if f.HoldAnswer, err = parseDuration(in.HoldAnswer); err != nil {
		return fmt.Errorf("holdAnswer: %w", err)
	}
	if f.LateLanding, err = parseDuration(in.LateLanding); err != nil {
		return fmt.Errorf("lateLanding: %w", err)
	}
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	return time.ParseDuration(s)
}
