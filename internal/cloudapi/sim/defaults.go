package sim

import "encoding/json"

// fillDefaults adds to a validated document's spec the members a real
// service might fill in when a client leaves them out (Config.FillDefaults;
// which members and values is inferred, to test clients against echoes
// that differ from what they sent):
//
//   - spec.desiredState: STARTED;
//   - spec.encryptVolumes: false;
//   - spec.metadataStore.backupRetention: 7 (days), when metadataStore is
//     present;
//   - spec.query.instanceType and spec.data.tierN.instanceType: the
//     master's instanceType, when the group is present without one.
//
// Values the client sent are never overwritten; a null or a member a merge
// patch removed counts as absent and is filled.
func fillDefaults(doc map[string]any) {
	spec, ok := doc["spec"].(map[string]any)
	if !ok {
		return
	}
	setDefault(spec, "desiredState", "STARTED")
	setDefault(spec, "encryptVolumes", false)
	if store, ok := spec["metadataStore"].(map[string]any); ok {
		setDefault(store, "backupRetention", json.Number("7"))
	}
	master, _ := spec["master"].(map[string]any)
	if instanceType, ok := master["instanceType"].(string); ok && instanceType != "" {
		groups := []any{spec["query"]}
		if data, ok := spec["data"].(map[string]any); ok {
			groups = append(groups, data["tier1"], data["tier2"], data["tier3"])
		}
		for _, g := range groups {
			if g, ok := g.(map[string]any); ok {
				setDefault(g, "instanceType", instanceType)
			}
		}
	}
}

// setDefault sets obj[name] to value when the member is absent or null.
func setDefault(obj map[string]any, name string, value any) {
	if obj[name] == nil {
		obj[name] = value
	}
}

// fill applies fillDefaults when Config.FillDefaults is on.
func (s *Server) fill(doc map[string]any) {
	if s.cfg.FillDefaults {
		fillDefaults(doc)
	}
}
