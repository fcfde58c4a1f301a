package approvals

import (
	"fmt"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Plan is what a request will do, said first, before its diff: a one-line
// headline ("Rolling update · adds 1 query server · no downtime"), the
// effects behind it, and how many fields the diff adds, changes and
// removes (as Terraform counts resources).
//
// What Cloud Manager does to servers is worked out from the specs as its
// documented behaviour has it (BEHAVIOUR.md §4, §6, §7): one server per
// replica; a server group's own settings restart its servers, the
// settings shared by every server restart them all, tags, the metadata
// store and the desired state restart none; a rolling update replaces
// servers one at a time, a hard update (force=true) all at once.
type Plan struct {
	Headline string
	// Effects say the headline's parts in full, one sentence each.
	Effects []string
	// Add, Change and Remove count the diff's fields by kind of change.
	Add, Change, Remove int
	// Downtime: the cluster (or a part of it) stops serving meanwhile.
	Downtime bool
}

// PlanInput is what a plan is worked out from: a request's kind, target
// and revision content, and what the dry run found.
type PlanInput struct {
	Kind        Kind
	ClusterName string
	Diff        Diff
	// Base is the cluster's spec as the request found it (nil for a
	// create); Proposed the spec asked for (nil for delete and restart).
	Base, Proposed *cloudapi.ClusterSpec
	// Payload carries the hard update choice and the server a restart
	// restarts.
	Payload Payload
	// NeedsHardUpdate: Cloud Manager's dry run refused the change as a
	// rolling update (Violations.HardUpdateNeeded).
	NeedsHardUpdate bool
}

// PlanOf is the plan of revision v of a request of kind on the cluster
// named name.
func PlanOf(kind Kind, name string, v Revision) Plan {
	return NewPlan(PlanInput{Kind: kind, ClusterName: name, Diff: v.Diff, Base: v.BaseSpec, Proposed: v.ProposedSpec, Payload: v.Payload})
}

// NewPlan works out the plan of in. It reads nothing but in.
func NewPlan(in PlanInput) Plan {
	var p Plan
	for _, c := range in.Diff {
		switch {
		case c.Added():
			p.Add++
		case c.Removed():
			p.Remove++
		default:
			p.Change++
		}
	}
	switch in.Kind {
	case KindCreate:
		planCreate(&p, in)
	case KindDelete:
		planDelete(&p, in)
	case KindRestartServer:
		planRestart(&p, in)
	default:
		planSpecChange(&p, in)
	}
	return p
}

func planCreate(p *Plan, in PlanInput) {
	after := serversOf(in.Proposed)
	parts := []string{"Creates cluster " + in.ClusterName}
	switch n := after.total(); {
	case in.Proposed != nil && isStopped(in.Proposed):
		parts = append(parts, "stopped: no servers run")
		p.Effects = append(p.Effects, "The cluster is created with its desired state STOPPED: no server runs until it is started.")
	default:
		parts = append(parts, count(n, "server"))
		p.Effects = append(p.Effects, "Cloud Manager starts "+after.breakdown()+".")
	}
	p.Headline = strings.Join(parts, " · ")
}

func planDelete(p *Plan, in PlanInput) {
	parts := []string{"Deletes the cluster"}
	if n := serversOf(in.Base).running(in.Base); n > 0 {
		parts = append(parts, count(n, "server")+" terminated")
	}
	parts = append(parts, "irreversible")
	p.Headline, p.Downtime = strings.Join(parts, " · "), true
	p.Effects = append(p.Effects, "The cluster and all its servers go away for good: this cannot be undone.")
}

func planRestart(p *Plan, in PlanInput) {
	name := "server " + in.Payload.InstanceID
	if seen := in.Payload.Server.short(); seen != "" {
		name += " (" + seen + ")"
	}
	parts := []string{"Restarts " + name}
	srv := in.Payload.Server
	peers := -1 // servers of the same kind, -1 when unknown
	if srv != nil && in.Base != nil {
		peers = serversOf(in.Base).ofNodeType(cloudapi.NodeType(srv.NodeType))
	}
	if peers == 1 {
		role := strings.ToLower(srv.NodeType)
		parts = append(parts, "the only "+role+" server", "downtime")
		p.Downtime = true
		p.Effects = append(p.Effects, "It is the cluster's only "+role+" server: what it serves is unavailable until its replacement is up.")
	} else {
		parts = append(parts, "others keep serving")
	}
	p.Effects = append(p.Effects, "Cloud Manager terminates the server and starts a replacement with a new instance id; the cluster's configuration does not change.")
	p.Headline = strings.Join(parts, " · ")
}

// planSpecChange plans a change of a cluster's spec: update, rollback,
// replace, stop and start.
func planSpecChange(p *Plan, in PlanInput) {
	before, after := serversOf(in.Base), serversOf(in.Proposed)
	wasRunning, runs := in.Base == nil || !isStopped(in.Base), in.Proposed == nil || !isStopped(in.Proposed)
	switch {
	case wasRunning && !runs:
		n := before.total()
		p.Headline = "Stops the cluster · " + count(n, "server") + " shut down · downtime"
		p.Downtime = true
		p.Effects = append(p.Effects, "Every server shuts down: queries and ingestion stop until the cluster is started again.")
		return
	case !wasRunning && runs:
		p.Headline = "Starts the cluster · " + count(after.total(), "server") + " start"
		p.Effects = append(p.Effects, "Cloud Manager starts "+after.breakdown()+".")
		return
	case !wasRunning:
		p.Headline = "Settings only · the cluster stays stopped · no server starts"
		p.Effects = append(p.Effects, "The cluster is stopped: the new settings apply when it is started.")
		return
	}

	restart := restartedGroups(in.Diff)
	var adds, removes, restarts []string
	var restarted, restartedAll int
	var alone []string // restarted groups of a single server
	for _, g := range serverGroups {
		b, a := before[g.path], after[g.path]
		if a > b {
			adds = append(adds, count(a-b, g.noun))
		}
		if b > a {
			removes = append(removes, count(b-a, g.noun))
		}
		if restart[g.path] {
			if n := min(a, b); n > 0 {
				restarted += n
				restarts = append(restarts, count(n, g.noun))
				if max(a, b) == 1 && (g.path == "master" || g.path == "query") {
					alone = append(alone, g.noun)
				}
			}
		}
		restartedAll += b
	}
	hard := in.Payload.HardUpdate
	var parts []string
	switch {
	case len(adds)+len(removes)+restarted == 0:
		parts = append(parts, "Settings only", "no server restarts", "no downtime")
		p.Effects = append(p.Effects, "No server is added, removed or restarted.")
		p.Headline = strings.Join(parts, " · ")
		return
	case in.NeedsHardUpdate && !hard:
		parts = append(parts, "Needs a hard update")
		p.Effects = append(p.Effects, "Cloud Manager's dry run refuses this change as a rolling update: it can only be applied as a hard update, which the request does not allow.")
	case hard:
		parts = append(parts, "Hard update")
	default:
		parts = append(parts, "Rolling update")
	}
	if len(adds) > 0 {
		parts = append(parts, "adds "+strings.Join(adds, ", "))
		p.Effects = append(p.Effects, "Cloud Manager adds "+strings.Join(adds, ", ")+".")
	}
	if len(removes) > 0 {
		parts = append(parts, "removes "+strings.Join(removes, ", "))
		p.Effects = append(p.Effects, "Cloud Manager removes "+strings.Join(removes, ", ")+".")
	}
	if restarted > 0 {
		what := strings.Join(restarts, ", ")
		if restarted == restartedAll {
			what = "all " + count(restarted, "server")
		}
		parts = append(parts, what+" restart")
		if hard {
			p.Effects = append(p.Effects, "A hard update (force=true): "+what+" restart at once, so the cluster is down until they are back.")
		} else {
			p.Effects = append(p.Effects, "Their settings change, so "+what+" restart one at a time while the others keep serving.")
		}
	}
	switch {
	case hard && restarted > 0:
		p.Downtime = true
		parts = append(parts, "downtime")
	case len(alone) > 0:
		p.Downtime = true
		parts = append(parts, "downtime")
		p.Effects = append(p.Effects, "The cluster has only one "+strings.Join(alone, " and one ")+": what it serves is unavailable while it restarts.")
	default:
		parts = append(parts, "no downtime")
	}
	p.Headline = strings.Join(parts, " · ")
}

// serverGroup is a replicated part of the spec: its path under spec, the
// noun of its servers and their node type.
type serverGroup struct {
	path, noun string
	nodeType   cloudapi.NodeType
}

var serverGroups = []serverGroup{
	{"master", "master server", cloudapi.NodeMaster},
	{"query", "query server", cloudapi.NodeQuery},
	{"data.tier1", "data server (tier 1)", cloudapi.NodeData},
	{"data.tier2", "data server (tier 2)", cloudapi.NodeData},
	{"data.tier3", "data server (tier 3)", cloudapi.NodeData},
}

// servers counts a spec's servers by group path.
type servers map[string]int

// serversOf counts the servers spec asks for, whatever its desired
// state; a group without replicas counts as one (as Cloud Manager does
// for master).
func serversOf(spec *cloudapi.ClusterSpec) servers {
	s := servers{}
	if spec == nil {
		return s
	}
	add := func(path string, present bool, replicas *int32) {
		if !present {
			return
		}
		n := 1
		if replicas != nil {
			n = int(*replicas)
		}
		s[path] = n
	}
	if spec.Master != nil {
		add("master", true, spec.Master.Replicas)
	}
	if spec.Query != nil {
		add("query", true, spec.Query.Replicas)
	}
	if d := spec.Data; d != nil {
		for i, t := range []*cloudapi.DataTier{d.Tier1, d.Tier2, d.Tier3} {
			if t != nil {
				add(fmt.Sprintf("data.tier%d", i+1), true, t.Replicas)
			}
		}
	}
	return s
}

func (s servers) total() int {
	n := 0
	for _, v := range s {
		n += v
	}
	return n
}

// running is how many servers run: none while the cluster is stopped.
func (s servers) running(spec *cloudapi.ClusterSpec) int {
	if spec != nil && isStopped(spec) {
		return 0
	}
	return s.total()
}

func (s servers) ofNodeType(t cloudapi.NodeType) int {
	n := 0
	for _, g := range serverGroups {
		if strings.EqualFold(string(g.nodeType), string(t)) {
			n += s[g.path]
		}
	}
	return n
}

// breakdown says the servers by group: "1 master server, 2 query servers
// and 3 data servers (tier 1)".
func (s servers) breakdown() string {
	var parts []string
	for _, g := range serverGroups {
		if n := s[g.path]; n > 0 {
			parts = append(parts, count(n, g.noun))
		}
	}
	if len(parts) == 0 {
		return "no server"
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

func isStopped(spec *cloudapi.ClusterSpec) bool {
	return spec.DesiredState == cloudapi.DesiredStopped
}

// restartedGroups are the server groups (by path under spec) whose
// servers a diff restarts: a group's own settings restart its servers
// (Pivot's run on the query servers, the data section's on every tier);
// tags, the desired state and the metadata store restart none; every
// other setting reaches every server.
func restartedGroups(d Diff) map[string]bool {
	out := map[string]bool{}
	all := func() {
		for _, g := range serverGroups {
			out[g.path] = true
		}
	}
	for _, c := range d {
		path, ok := strings.CutPrefix(c.Path, "spec")
		if !ok || path == "" {
			continue
		}
		path = strings.TrimPrefix(path, ".")
		switch top := topMember(path); top {
		case "desiredState", "awsTags", "metadataStore":
		case "master", "query":
			if !isReplicas(path, top) {
				out[top] = true
			}
		case "pivot":
			out["query"] = true
		case "data":
			rest := strings.TrimPrefix(path, "data.")
			tier := topMember(rest)
			switch tier {
			case "tier1", "tier2", "tier3":
				if !isReplicas(rest, tier) {
					out["data."+tier] = true
				}
			default:
				for _, g := range serverGroups {
					if g.nodeType == cloudapi.NodeData {
						out[g.path] = true
					}
				}
			}
		default:
			all()
		}
	}
	return out
}

// topMember is the first member of a path: "query" of "query.replicas",
// "awsTags" of `awsTags["team"]`.
func topMember(path string) string {
	if i := strings.IndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return path
}

func isReplicas(path, group string) bool { return path == group+".replicas" }

// count says n of noun: "1 query server", "2 query servers", "2 data
// servers (tier 1)".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if head, tail, ok := strings.Cut(noun, " ("); ok {
		return fmt.Sprintf("%d %ss (%s", n, head, tail)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// short names the server briefly for a headline: "query, 10.0.1.5".
func (s *ServerSeen) short() string {
	if s == nil {
		return ""
	}
	var parts []string
	if s.NodeType != "" {
		parts = append(parts, strings.ToLower(s.NodeType))
	}
	if s.PrivateIP != "" {
		parts = append(parts, s.PrivateIP)
	}
	return strings.Join(parts, ", ")
}
