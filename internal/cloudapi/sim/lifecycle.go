package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// The lifecycle model is inferred (BEHAVIOUR.md §4): a change runs as a
// plan of stages, each lasting Config.StageDuration, while the cluster is
// PENDING (provisioning) or UPDATING; then it settles in STOPPED or the
// running state (Config.RunningState, STARTED unless configured).

// Plan kinds.
const (
	planProvision = "provision" // a new cluster; state PENDING
	planRolling   = "rolling"   // one server per stage; cancellable
	planHard      = "hard"      // everything in one stage
	planRestart   = "restart"   // one server replaced
)

// action is what one stage does to one server slot.
type action struct {
	Kind  string `json:"kind"` // add, remove or replace
	Group group  `json:"group"`
	Slot  int    `json:"slot"`
}

// plan is a change being applied. Exported fields go to the state file.
type plan struct {
	Kind   string                `json:"kind"`
	Stages [][]action            `json:"stages"`
	Next   int                   `json:"next"` // index of the running stage
	Final  cloudapi.ClusterState `json:"final"`
}

// planChange plans how c moves from oldSpec to newSpec. It refuses (a
// detail for a 400) a change that needs servers restarted on a cluster
// that cannot take a rolling update, unless force is set.
func (s *Server) planChange(c *cluster, oldSpec, newSpec map[string]any, force bool) (*plan, *cloudapi.ErrorDetail) {
	before, after := topologyOf(oldSpec), topologyOf(newSpec)
	actions := diffActions(c.Servers, before, after)
	p := &plan{Kind: planHard, Final: s.cfg.RunningState}
	if newSpec["desiredState"] == string(cloudapi.DesiredStopped) {
		p.Final = cloudapi.StateStopped
	}
	running := c.Status.State == s.cfg.RunningState
	if !running || p.Final == cloudapi.StateStopped || force || len(actions) == 0 {
		// Start, stop, a stopped cluster's settings, a forced update or a
		// change touching no server: one stage.
		p.Stages = [][]action{actions}
		return p, nil
	}
	restarts := slices.ContainsFunc(actions, func(a action) bool { return a.Kind == "replace" })
	masters := countServers(c.Servers, groupMaster)
	if restarts && masters < 3 && s.cfg.enabled(RuleHardUpdateNeedsForce) {
		target := "spec"
		if before.shared == after.shared {
			i := slices.IndexFunc(actions, func(a action) bool { return a.Kind == "replace" })
			target = actions[i].Group.specPath()
		}
		return nil, &cloudapi.ErrorDetail{
			Code:    cloudapi.CodeMalformedValue,
			Target:  target,
			Message: "This change restarts servers of a cluster with fewer than 3 masters, which cannot take a rolling update; repeat with force=true for a hard update",
		}
	}
	p.Kind = planRolling
	for _, a := range actions {
		p.Stages = append(p.Stages, []action{a})
	}
	return p, nil
}

// diffActions lists what turns the servers of topology before into those
// of after: new slots are added, surplus slots removed, and slots of a
// group whose settings changed are replaced.
func diffActions(servers []server, before, after topology) []action {
	var actions []action
	for _, g := range groups {
		have := countServers(servers, g)
		want := after.groups[g].replicas
		restart := before.shared != after.shared || before.groups[g].fingerprint != after.groups[g].fingerprint
		for slot := range min(have, want) {
			if restart {
				actions = append(actions, action{"replace", g, slot})
			}
		}
		for slot := have; slot < want; slot++ {
			actions = append(actions, action{"add", g, slot})
		}
		for slot := have - 1; slot >= want; slot-- {
			actions = append(actions, action{"remove", g, slot})
		}
	}
	return actions
}

// countServers counts the servers of g.
func countServers(servers []server, g group) int {
	n := 0
	for _, srv := range servers {
		if srv.Group == g {
			n++
		}
	}
	return n
}

// start begins applying p to c: the cluster becomes busy and the first
// stage's timer runs.
func (s *Server) start(c *cluster, p *plan) {
	c.stopTimer()
	c.Plan = p
	if p.Kind == planProvision {
		c.Status.State = cloudapi.StatePending
		c.Status.UpdateState = nil
	} else {
		c.Status.State = cloudapi.StateUpdating
		c.Status.UpdateState = &cloudapi.UpdateState{
			Cancellable:  p.Kind == planRolling,
			TotalStages:  int32(len(p.Stages)),
			CurrentStage: 1,
		}
	}
	s.log.Info("sim: cluster busy", "cluster", c.UID, "plan", p.Kind, "stages", len(p.Stages))
	s.beginStage(c)
	s.schedule(c)
}

// beginStage logs the running stage and marks the servers it touches.
func (s *Server) beginStage(c *cluster) {
	p := c.Plan
	var what []string
	for _, a := range p.Stages[p.Next] {
		i := slices.IndexFunc(c.Servers, func(srv server) bool { return srv.Group == a.Group && srv.Slot == a.Slot })
		switch {
		case a.Kind == "add":
			what = append(what, fmt.Sprintf("adding a %s server (%s #%d)", a.Group.nodeType(), a.Group, a.Slot+1))
		case i >= 0:
			verb, state := "replacing", "REPLACING"
			if a.Kind == "remove" {
				verb, state = "removing", "TERMINATING"
			}
			c.Servers[i].Machine.State = state
			what = append(what, fmt.Sprintf("%s server %s (%s)", verb, c.Servers[i].Machine.InstanceID, a.Group.nodeType()))
		}
	}
	if len(what) == 0 {
		what = []string{"applying the configuration"}
	}
	if len(what) > 3 {
		what = append(what[:3], fmt.Sprintf("and %d more", len(what)-3))
	}
	c.event("Stage %d of %d (%s update): %s", p.Next+1, len(p.Stages), p.Kind, strings.Join(what, ", "))
}

// schedule ends the running stage of c after StageDuration.
func (s *Server) schedule(c *cluster) {
	c.gen++
	uid, gen := c.UID, c.gen
	c.timer = time.AfterFunc(s.cfg.StageDuration, func() { s.advance(uid, gen) })
}

// advance is the timer callback ending a stage.
func (s *Server) advance(uid string, gen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clusters[uid]
	if s.closed || c == nil || c.gen != gen || c.Plan == nil {
		return // stopped, deleted, reset or superseded meanwhile
	}
	if s.paused {
		s.schedule(c) // look again one stage later
		return
	}
	c.timer = nil
	if s.completeStage(c) {
		s.beginStage(c)
		s.schedule(c)
	}
	s.persist()
}

// completeStage applies the running stage of c and reports whether another
// follows; after the last one the cluster settles.
func (s *Server) completeStage(c *cluster) bool {
	p := c.Plan
	after := topologyOf(c.spec())
	for _, a := range p.Stages[p.Next] {
		i := slices.IndexFunc(c.Servers, func(srv server) bool { return srv.Group == a.Group && srv.Slot == a.Slot })
		switch {
		case a.Kind == "add":
			c.Servers = append(c.Servers, s.newServer(a.Group, a.Slot, after.groups[a.Group].instanceType))
		case a.Kind == "remove" && i >= 0:
			c.Servers = slices.Delete(c.Servers, i, i+1)
		case a.Kind == "replace" && i >= 0:
			if t := after.groups[a.Group].instanceType; t != "" {
				c.Servers[i].Machine.InstanceType = t
			}
			s.renew(&c.Servers[i])
		}
	}
	slices.SortStableFunc(c.Servers, func(a, b server) int {
		if d := slices.Index(groups, a.Group) - slices.Index(groups, b.Group); d != 0 {
			return d
		}
		return a.Slot - b.Slot
	})
	p.Next++
	if p.Next < len(p.Stages) {
		if c.Status.UpdateState != nil {
			c.Status.UpdateState.CurrentStage = int32(p.Next + 1)
		}
		return true
	}
	c.Plan = nil
	c.Status.State = p.Final
	c.Status.UpdateState = nil
	c.event("Cluster is %s", p.Final)
	s.log.Info("sim: cluster settled", "cluster", c.UID, "state", p.Final)
	return false
}

// finishNow applies every remaining stage of c at once (demo seeding, and
// changes left running when the state file was written).
func (s *Server) finishNow(c *cluster) {
	c.stopTimer()
	for c.Plan != nil {
		if s.completeStage(c) {
			s.beginStage(c)
		}
	}
}

// PauseUpdates holds every change where it is: clusters stay PENDING or
// UPDATING, at their current stage, until ResumeUpdates. Tests use it to
// make "busy" last; demos to show a 409.
func (s *Server) PauseUpdates() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = true
}

// ResumeUpdates lets paused changes continue; each running stage ends
// within one StageDuration.
func (s *Server) ResumeUpdates() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = false
}
