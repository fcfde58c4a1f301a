package approvals

import (
	"encoding/json"
	"fmt"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// NotRestoredRule is a field a rollback takes from the live cluster, not
// from the version it restores, and why.
type NotRestoredRule struct {
	Path string
	Why  string
}

// NotRestoredRules are the fields a rollback keeps as they are live:
//
//   - spec.desiredState: whether a cluster runs is changed by stop and
//     start requests, each with its own risk hints; a rollback to a version
//     recorded while the cluster was stopped must not silently stop it (or
//     start a stopped one).
//   - spec.deepStorage: where the segments are. Restoring an older path
//     would point Druid at another location without moving a segment
//     (segments written since would be lost to the cluster); moving deep
//     storage is an update of its own, with the deep storage risk hint.
//
// spec.pivot.accessMode is restored like any field, but a version without
// one keeps the live one, and when the cluster has none either PROXIED is
// sent: the PUT that submits the rollback must carry one (BEHAVIOUR.md §6).
func NotRestoredRules() []NotRestoredRule {
	return []NotRestoredRule{
		{"spec.desiredState", "Starting or stopping the cluster is a request of its own (start, stop); a rollback never does it silently."},
		{"spec.deepStorage", "Deep storage holds the segments: restoring an older location would leave the segments written since behind. Move it with an update request."},
	}
}

const (
	accessModeWhy     = "The version has no Pivot access mode; every replace (PUT) must carry one, so the live one is kept."
	accessModeDefault = "Neither the version nor the cluster has a Pivot access mode; every replace (PUT) must carry one, so PROXIED is sent."
)

// restoreSpec is the proposal of a rollback to old on a cluster whose
// live spec is live: old, with the NotRestoredRules fields and a missing
// access mode taken from live. It returns the kept fields with both
// values.
func restoreSpec(old, live cloudapi.ClusterSpec) (cloudapi.ClusterSpec, []KeptField, error) {
	proposed, err := cloneSpec(old)
	if err != nil {
		return cloudapi.ClusterSpec{}, nil, err
	}
	current, err := cloneSpec(live)
	if err != nil {
		return cloudapi.ClusterSpec{}, nil, err
	}
	var kept []KeptField
	keep := func(path, why string, version, liveValue any) {
		kept = append(kept, KeptField{Path: path, Why: why, Version: rawOrNil(version), Live: rawOrNil(liveValue)})
	}
	rules := NotRestoredRules()
	keep(rules[0].Path, rules[0].Why, old.DesiredState, live.DesiredState)
	proposed.DesiredState = current.DesiredState
	keep(rules[1].Path, rules[1].Why, old.DeepStorage, live.DeepStorage)
	proposed.DeepStorage = current.DeepStorage
	kept = append(kept, keepAccessMode(&proposed, current)...)
	return proposed, kept, nil
}

// keepAccessMode gives proposed the live access mode when it has none, or
// PROXIED when the cluster has none either (BEHAVIOUR.md §6: the client's
// default).
func keepAccessMode(proposed *cloudapi.ClusterSpec, live cloudapi.ClusterSpec) []KeptField {
	if proposed.Pivot != nil && proposed.Pivot.AccessMode != "" {
		return nil
	}
	mode, why := cloudapi.AccessProxied, accessModeDefault
	if live.Pivot != nil && live.Pivot.AccessMode != "" {
		mode, why = live.Pivot.AccessMode, accessModeWhy
	}
	if proposed.Pivot == nil {
		proposed.Pivot = &cloudapi.PivotAccess{}
	}
	proposed.Pivot.AccessMode = mode
	return []KeptField{{Path: "spec.pivot.accessMode", Why: why, Live: rawOrNil(mode)}}
}

// checkAccessMode refuses a replacing proposal without an access mode.
func checkAccessMode(spec cloudapi.ClusterSpec) error {
	if spec.Pivot == nil || spec.Pivot.AccessMode == "" {
		return &ValidationError{Violations: Violations{{Target: "spec.pivot.accessMode",
			Message: "a replace (PUT) needs spec.pivot.accessMode, and neither the proposal nor the cluster has one"}}}
	}
	return nil
}

// rawOrNil encodes v, nil for an absent value (zero string, nil pointer).
func rawOrNil(v any) json.RawMessage {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	switch string(raw) {
	case "null", `""`:
		return nil
	}
	return raw
}

// sameValue compares two JSON values (absent equals null).
func sameValue(a, b json.RawMessage) bool {
	x, errA := decodeRaw(a)
	y, errB := decodeRaw(b)
	return errA == nil && errB == nil && equalJSON(x, y)
}

func decodeRaw(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	return decodeOrdered(raw)
}

// cloneSpec returns a deep copy of spec.
func cloneSpec(spec cloudapi.ClusterSpec) (cloudapi.ClusterSpec, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return cloudapi.ClusterSpec{}, err
	}
	var out cloudapi.ClusterSpec
	if err := json.Unmarshal(raw, &out); err != nil {
		return cloudapi.ClusterSpec{}, fmt.Errorf("copy spec: %w", err)
	}
	return out, nil
}
