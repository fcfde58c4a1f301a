package sim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// status.servers is derived from the spec (BEHAVIOUR.md §4, inferred): one
// server per replica of each group, none while stopped. A group is one
// replicated part of the spec.

type group string

const (
	groupMaster group = "master"
	groupQuery  group = "query"
	groupTier1  group = "data.tier1"
	groupTier2  group = "data.tier2"
	groupTier3  group = "data.tier3"
)

// groups in the order servers are listed.
var groups = []group{groupMaster, groupQuery, groupTier1, groupTier2, groupTier3}

func (g group) nodeType() cloudapi.NodeType {
	switch g {
	case groupMaster:
		return cloudapi.NodeMaster
	case groupQuery:
		return cloudapi.NodeQuery
	}
	return cloudapi.NodeData
}

// specPath is the path of the group's object in a cluster document.
func (g group) specPath() string { return "spec." + string(g) }

// server is one simulated machine: its group and slot (index in the group)
// decide what a change does to it.
type server struct {
	Group   group           `json:"group"`
	Slot    int             `json:"slot"`
	Machine cloudapi.Server `json:"machine"`
}

// groupSpec is what the spec asks of one group.
type groupSpec struct {
	replicas     int
	instanceType string
	// fingerprint covers the group's settings other than replicas; when it
	// changes, the group's servers must be restarted.
	fingerprint string
}

// topology is what a spec asks of every group, plus the fingerprint of
// the settings every server uses.
type topology struct {
	groups map[group]groupSpec
	shared string
}

// topologyOf reads a validated spec. A stopped cluster asks for no servers.
func topologyOf(spec map[string]any) topology {
	running := spec["desiredState"] != string(cloudapi.DesiredStopped)
	t := topology{groups: map[group]groupSpec{}}

	// Settings that reach every server. Tags, the desired state, the
	// metadata store (a database of its own) and the groups themselves do
	// not (BEHAVIOUR.md §6: which changes restart servers is inferred).
	shared := map[string]any{}
	for k, v := range spec {
		switch k {
		case "desiredState", "awsTags", "metadataStore", "master", "query", "data", "pivot":
		default:
			shared[k] = v
		}
	}
	t.shared = fingerprint(shared)

	data, _ := spec["data"].(map[string]any)
	dataShared := map[string]any{
		"historicalRuntimeProperties":    data["historicalRuntimeProperties"],
		"middleManagerRuntimeProperties": data["middleManagerRuntimeProperties"],
	}
	for _, g := range groups {
		obj, present := lookup(map[string]any{"spec": spec}, g.specPath()).(map[string]any)
		if !present {
			continue
		}
		settings := map[string]any{}
		for k, v := range obj {
			if k != "replicas" {
				settings[k] = v
			}
		}
		switch g {
		case groupQuery:
			settings["pivot"] = spec["pivot"] // Pivot runs on the query servers
		case groupTier1, groupTier2, groupTier3:
			settings["data"] = dataShared
		}
		replicas := 1 // a null replicas (seen for master) counts as one
		if n, ok := asInt(obj["replicas"]); ok {
			replicas = int(n)
		}
		if !running {
			replicas = 0
		}
		instanceType, _ := obj["instanceType"].(string)
		t.groups[g] = groupSpec{replicas: replicas, instanceType: instanceType, fingerprint: fingerprint(settings)}
	}
	return t
}

func fingerprint(v any) string {
	b, _ := json.Marshal(v) // decoded JSON always encodes; keys come out sorted
	return string(b)
}

// newServer makes the machine for slot of g.
func (s *Server) newServer(g group, slot int, instanceType string) server {
	srv := server{Group: g, Slot: slot, Machine: cloudapi.Server{
		InstanceType: instanceType,
		NodeType:     g.nodeType(),
		State:        "RUNNING",
	}}
	s.renew(&srv)
	return srv
}

// renew gives srv a new identity, as a replaced EC2 instance gets.
func (s *Server) renew(srv *server) {
	s.ipSeq++
	m := &srv.Machine
	m.InstanceID = "i-" + randomHex(17)
	m.PrivateIP = fmt.Sprintf("10.0.%d.%d", s.ipSeq/250%256, s.ipSeq%250+4)
	m.PublicIP = ""
	if srv.Group == groupQuery { // only query servers face the internet
		m.PublicIP = fmt.Sprintf("203.0.113.%d", s.ipSeq%250+4)
	}
	m.State = "RUNNING"
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// newUID returns a random (version 4) UUID.
func newUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
