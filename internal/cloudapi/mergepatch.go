package cloudapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

// UpdateCluster sends a JSON merge patch (RFC 7386), the documented body of
// PATCH. Its rules: an object is merged member by member, a null member
// deletes that member, and anything else (arrays included) replaces the old
// value whole.

// ErrUnrepresentable is returned by CreateMergePatch when the target has a
// null object member that the original does not have in the same place.
// RFC 7386 cannot express that: a null in a patch means "delete this
// member", so no patch creates a member whose value is null. A null the
// original already has is fine (the patch leaves it alone), and so are
// nulls inside arrays (arrays are copied verbatim). A typed spec writes a
// null only where it read one (see Extra), so a patch between two specs
// read from the API fails only when the null would be new.
var ErrUnrepresentable = errors.New("cloudapi: target has a null object member, which a merge patch cannot express")

// CreateMergePatch returns the smallest RFC 7386 merge patch that turns
// original into target: members that did not change are left out, removed
// members become null, changed arrays and scalars are given whole, and
// objects are compared member by member. Equal objects give "{}".
// ApplyMergePatch(original, patch) is equal to target, as JSON values.
// Errors: invalid JSON in either document, or ErrUnrepresentable (target
// has a null member original lacks).
func CreateMergePatch(original, target []byte) ([]byte, error) {
	orig, err := decodeJSON(original)
	if err != nil {
		return nil, fmt.Errorf("cloudapi: merge patch: original: %w", err)
	}
	want, err := decodeJSON(target)
	if err != nil {
		return nil, fmt.Errorf("cloudapi: merge patch: target: %w", err)
	}
	patch, err := diffValues(orig, want)
	if err != nil {
		return nil, err
	}
	return encodeJSON(patch)
}

// ApplyMergePatch applies an RFC 7386 merge patch to doc and returns the
// result. A patch that is not an object replaces doc whole. Errors: invalid
// JSON in either argument.
func ApplyMergePatch(doc, patch []byte) ([]byte, error) {
	target, err := decodeJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("cloudapi: merge patch: document: %w", err)
	}
	p, err := decodeJSON(patch)
	if err != nil {
		return nil, fmt.Errorf("cloudapi: merge patch: patch: %w", err)
	}
	return encodeJSON(mergeValue(target, p))
}

// SpecPatch returns the merge patch document {"spec": …} that turns the
// spec from into the spec to, or {} when they are equal. It is the body
// UpdateCluster expects for a change made on a typed spec.
func SpecPatch(from, to ClusterSpec) (json.RawMessage, error) {
	a, err := json.Marshal(Cluster{Spec: from})
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(Cluster{Spec: to})
	if err != nil {
		return nil, err
	}
	return CreateMergePatch(a, b)
}

// mergeValue is the MergePatch function of RFC 7386 §2.
func mergeValue(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
		} else {
			t[k] = mergeValue(t[k], v)
		}
	}
	return t
}

// diffValues returns the patch turning orig into want, or
// ErrUnrepresentable when want has a null object member orig lacks.
func diffValues(orig, want any) (any, error) {
	o, oIsObject := orig.(map[string]any)
	w, wIsObject := want.(map[string]any)
	if !oIsObject || !wIsObject {
		// Replacing a non-object (or by a non-object) needs the whole
		// value; an object given whole is merged into {} and so arrives
		// intact only when it has no null members.
		if hasNullMember(want) {
			return nil, ErrUnrepresentable
		}
		return want, nil
	}
	patch := map[string]any{}
	for k := range o {
		if _, kept := w[k]; !kept {
			patch[k] = nil
		}
	}
	for k, wv := range w {
		ov, had := o[k]
		switch {
		case had && reflect.DeepEqual(ov, wv):
			// Unchanged, a null included: the patch leaves it alone.
		case wv == nil:
			return nil, ErrUnrepresentable
		default:
			d, err := diffValues(ov, wv)
			if err != nil {
				return nil, err
			}
			patch[k] = d
		}
	}
	return patch, nil
}

// hasNullMember reports whether v holds, at any depth outside arrays, an
// object member whose value is null.
func hasNullMember(v any) bool {
	obj, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, member := range obj {
		if member == nil || hasNullMember(member) {
			return true
		}
	}
	return false
}

// decodeJSON decodes one JSON value, keeping numbers as written.
func decodeJSON(data []byte) (any, error) {
	if !json.Valid(data) {
		return nil, errors.New("not a single valid JSON value")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// encodeJSON encodes v compactly without HTML escaping; object members come
// out sorted by name.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
