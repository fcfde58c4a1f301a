package approvals

import (
	"encoding/json"
	"strings"
)

// Payload is the input of kinds that carry more than a spec.
type Payload struct {
	// InstanceID is the server a restart_server request restarts; Server
	// describes it as it was when the request was filed (a restart
	// replaces it, so the cluster no longer lists it afterwards).
	InstanceID string      `json:"instanceId,omitempty"`
	Server     *ServerSeen `json:"server,omitempty"`
	// RollbackTo is the resource version a rollback request restores.
	RollbackTo *int64 `json:"rollbackTo,omitempty"`
	// NotRestored are the fields a rollback (or replace) request takes from
	// the live cluster rather than from the version or the editor, with
	// why (see NotRestoredRules).
	NotRestored []KeptField `json:"notRestored,omitempty"`
	// HardUpdate is the requester's explicit choice, reviewed by the
	// approvers, to let Cloud Manager restart every affected server at
	// once (force=true, with downtime) when a rolling update is
	// impossible. Only then does execution send force=true.
	HardUpdate bool `json:"hardUpdate,omitempty"`
}

// KeptField is a field of the proposed spec taken from the live cluster.
type KeptField struct {
	Path string `json:"path"`
	// Live is the value kept (absent: none); Version is the value the old
	// version (or the editor) had, which is not applied.
	Live    json.RawMessage `json:"live,omitempty"`
	Version json.RawMessage `json:"version,omitempty"`
	Why     string          `json:"why"`
}

// Differs reports whether keeping the live value made a difference.
func (k KeptField) Differs() bool { return !sameValue(k.Live, k.Version) }

// ServerSeen is a server of a cluster as a request saw it.
type ServerSeen struct {
	NodeType     string `json:"nodeType,omitempty"`
	InstanceType string `json:"instanceType,omitempty"`
	PrivateIP    string `json:"privateIp,omitempty"`
}

// String names the server for people, e.g. "DATA server, m5d.xlarge,
// 10.0.1.12"; empty when nothing is known.
func (s *ServerSeen) String() string {
	if s == nil {
		return ""
	}
	var parts []string
	if s.NodeType != "" {
		parts = append(parts, s.NodeType+" server")
	}
	for _, p := range []string{s.InstanceType, s.PrivateIP} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}
