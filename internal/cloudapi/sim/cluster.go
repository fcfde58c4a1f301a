package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// cluster is one simulated cluster. Its fields are exported for the state
// file only.
type cluster struct {
	UID     string    `json:"uid"`
	Created time.Time `json:"created"`
	// Doc is the stored document: metadata (uid included), spec and any
	// other top-level member a client sent, kept as sent.
	Doc json.RawMessage `json:"doc"`
	// Status is status minus servers, which are derived from Servers.
	Status  cloudapi.ClusterStatus `json:"status"`
	Servers []server               `json:"servers"`
	// History[v] is the cluster as it was when version v was replaced by
	// v+1 (BEHAVIOUR.md §5: which status a version shows is inferred).
	History []json.RawMessage `json:"history"`
	// Plan is the change being applied, nil when the cluster is steady.
	Plan *plan `json:"plan,omitempty"`

	timer *time.Timer // ends the current stage of Plan
	gen   int         // invalidates the callbacks of stopped timers
}

// maxEvents bounds status.events; older events are dropped.
const maxEvents = 100

// render returns the cluster as the API shows it.
func (c *cluster) render() json.RawMessage {
	var members map[string]json.RawMessage
	_ = json.Unmarshal(c.Doc, &members) // Doc is always a JSON object
	status := c.Status
	status.Servers = make([]cloudapi.Server, len(c.Servers))
	for i, srv := range c.Servers {
		status.Servers[i] = srv.Machine
	}
	members["status"], _ = json.Marshal(status)
	out, _ := json.Marshal(members)
	return out
}

// spec decodes the stored spec for reading.
func (c *cluster) spec() map[string]any {
	doc, _ := decodeDocument(c.Doc)
	spec, _ := doc["spec"].(map[string]any)
	return spec
}

// steadyState is the state the cluster is in, or heads for, when no change
// runs: what its spec asks for, with running named as Config.RunningState.
func (c *cluster) steadyState(running cloudapi.ClusterState) cloudapi.ClusterState {
	if c.spec()["desiredState"] == string(cloudapi.DesiredStopped) {
		return cloudapi.StateStopped
	}
	return running
}

func (c *cluster) event(format string, args ...any) {
	c.Status.Events = append(c.Status.Events, cloudapi.Event{
		Level:     cloudapi.EventInfo,
		Source:    cloudapi.EventSourceManager,
		Message:   fmt.Sprintf(format, args...),
		Timestamp: time.Now().UTC(),
	})
	if n := len(c.Status.Events); n > maxEvents {
		c.Status.Events = slices.Delete(c.Status.Events, 0, n-maxEvents)
	}
}

// conflict is the documented 409 reply for a change while c is busy; to is
// the state the change asked for.
func (c *cluster) conflict(to string) response {
	return errorReply(http.StatusConflict, cloudapi.CodeStateConflict,
		fmt.Sprintf("Cluster [%s] cannot transition from [%s] to [%s]", c.UID, c.Status.State, to))
}

func (c *cluster) serverIndex(instanceID string) int {
	return slices.IndexFunc(c.Servers, func(s server) bool { return s.Machine.InstanceID == instanceID })
}

func (c *cluster) stopTimer() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.gen++
}
