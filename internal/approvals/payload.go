package approvals

// Payload is the input of kinds that carry more than a spec.
type Payload struct {
	// InstanceID is the server a restart_server request restarts.
	InstanceID string `json:"instanceId,omitempty"`
}
