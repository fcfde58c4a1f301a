package approvals

import "encoding/json"

// Payload is the input of kinds that carry more than a spec.
type Payload struct {
	// InstanceID is the server a restart_server request restarts.
	InstanceID string `json:"instanceId,omitempty"`
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
