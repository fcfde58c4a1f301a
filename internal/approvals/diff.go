package approvals

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Change is one field path whose value a request changes. Before and After
// are JSON values; nil means the field is absent on that side (a JSON null
// counts as absent, as it does in a merge patch).
//
// Path format, readable and unambiguous:
//
//	spec.data.tier1.replicas           object members joined by dots: the
//	                                   same dotted paths the API uses as
//	                                   error targets
//	spec.awsTags["team"]               an item of an array of named objects
//	                                   (every item has a distinct "name", or
//	                                   for customFiles a distinct "path"),
//	                                   quoted as a Go string literal
//	spec.master.coordinatorRuntimeProperties["druid.x"]
//	                                   for {name, value} items the entry is
//	                                   the value itself, whole
//	spec.customFiles["s3://b/f"].executable
//	                                   other members of a named item
//	spec.things[2].x                   items of other arrays of objects, by
//	                                   position
//	spec.druidExtensions               arrays of plain values change whole
//	spec["odd.member"]                 members whose name is not a plain
//	                                   identifier are quoted like items
//
// Added or removed objects are listed leaf by leaf, so a new tier shows its
// replicas and instance type as separate changes.
type Change struct {
	Path   string          `json:"path"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// Added reports whether the field is new.
func (c Change) Added() bool { return c.Before == nil && c.After != nil }

// Removed reports whether the field goes away.
func (c Change) Removed() bool { return c.Before != nil && c.After == nil }

// Diff is the list of changes of a request, in the order of the proposed
// document (fields only in the base come after the kept ones of their
// object).
type Diff []Change

// Paths returns the changed paths in order.
func (d Diff) Paths() []string {
	paths := make([]string, len(d))
	for i, c := range d {
		paths[i] = c.Path
	}
	return paths
}

// Find returns the change at path.
func (d Diff) Find(path string) (Change, bool) {
	i := slices.IndexFunc(d, func(c Change) bool { return c.Path == path })
	if i < 0 {
		return Change{}, false
	}
	return d[i], true
}

// DiffSpecs returns the changes that turn base into proposed, with paths
// starting at "spec". A nil base lists every field of proposed as added; a
// nil proposed lists every field of base as removed.
func DiffSpecs(base, proposed *cloudapi.ClusterSpec) (Diff, error) {
	before, err := decodeSpec(base)
	if err != nil {
		return nil, fmt.Errorf("approvals: diff: base: %w", err)
	}
	after, err := decodeSpec(proposed)
	if err != nil {
		return nil, fmt.Errorf("approvals: diff: proposal: %w", err)
	}
	var d Diff
	diffValue(&d, "spec", before, after)
	return d, nil
}

func decodeSpec(spec *cloudapi.ClusterSpec) (any, error) {
	if spec == nil {
		return nil, nil
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	return decodeOrdered(raw)
}

// diffValue appends to d the changes from a to b at path.
func diffValue(d *Diff, path string, a, b any) {
	if equalJSON(a, b) {
		return
	}
	ao, aIsObj := a.(*object)
	bo, bIsObj := b.(*object)
	switch {
	case aIsObj && bIsObj, aIsObj && b == nil, a == nil && bIsObj:
		diffObjects(d, path, ao, bo)
		return
	}
	aa, aIsArr := a.([]any)
	ba, bIsArr := b.([]any)
	if (aIsArr || a == nil) && (bIsArr || b == nil) {
		if key := namedKey(aa, ba); key != "" {
			diffNamed(d, path, key, aa, ba)
			return
		}
		if aIsArr && bIsArr && allObjects(aa) && allObjects(ba) {
			for i := range max(len(aa), len(ba)) {
				diffValue(d, path+"["+strconv.Itoa(i)+"]", at(aa, i), at(ba, i))
			}
			return
		}
	}
	*d = append(*d, Change{Path: path, Before: encodeValue(a), After: encodeValue(b)})
}

func diffObjects(d *Diff, path string, a, b *object) {
	if a == nil {
		a = &object{}
	}
	if b == nil {
		b = &object{}
	}
	for _, k := range b.keys {
		diffValue(d, memberPath(path, k), a.values[k], b.values[k])
	}
	for _, k := range a.keys {
		if _, kept := b.values[k]; !kept {
			diffValue(d, memberPath(path, k), a.values[k], nil)
		}
	}
}

// diffNamed matches the items of two arrays of named objects by key.
func diffNamed(d *Diff, path, key string, a, b []any) {
	index := func(items []any) map[string]*object {
		m := make(map[string]*object, len(items))
		for _, it := range items {
			o := it.(*object)
			m[o.values[key].(string)] = o
		}
		return m
	}
	before, after := index(a), index(b)
	visit := func(name string) {
		itemPath := path + "[" + strconv.Quote(name) + "]"
		x, y := before[name], after[name]
		if isNameValue(x) && isNameValue(y) {
			// A property's value is opaque (any JSON): it changes whole.
			if a, b := memberOrNil(x, "value"), memberOrNil(y, "value"); !equalJSON(a, b) {
				*d = append(*d, Change{Path: itemPath, Before: encodeValue(a), After: encodeValue(b)})
			}
			return
		}
		if x == nil || y == nil {
			// A whole item comes or goes: show it whole.
			var bx, by any
			if x != nil {
				bx = x
			}
			if y != nil {
				by = y
			}
			*d = append(*d, Change{Path: itemPath, Before: encodeValue(bx), After: encodeValue(by)})
			return
		}
		for _, k := range y.keys {
			if k != key {
				diffValue(d, memberPath(itemPath, k), x.values[k], y.values[k])
			}
		}
		for _, k := range x.keys {
			if _, kept := y.values[k]; !kept && k != key {
				diffValue(d, memberPath(itemPath, k), x.values[k], nil)
			}
		}
	}
	for _, it := range b {
		visit(it.(*object).values[key].(string))
	}
	for _, it := range a {
		if name := it.(*object).values[key].(string); after[name] == nil {
			visit(name)
		}
	}
}

// namedKey returns the member ("name", else "path") that identifies every
// item of both arrays (objects with a distinct non-empty string there), or
// "" when there is none. Two empty arrays have none.
func namedKey(a, b []any) string {
	if len(a)+len(b) == 0 {
		return ""
	}
	for _, key := range []string{"name", "path"} {
		if keyedBy(a, key) && keyedBy(b, key) {
			return key
		}
	}
	return ""
}

func keyedBy(items []any, key string) bool {
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		o, ok := it.(*object)
		if !ok {
			return false
		}
		name, ok := o.values[key].(string)
		if !ok || name == "" || seen[name] {
			return false
		}
		seen[name] = true
	}
	return true
}

// isNameValue reports whether o is a {name, value} pair (or absent).
func isNameValue(o *object) bool {
	if o == nil {
		return true
	}
	for _, k := range o.keys {
		if k != "name" && k != "value" {
			return false
		}
	}
	return true
}

func memberOrNil(o *object, k string) any {
	if o == nil {
		return nil
	}
	return o.values[k]
}

func allObjects(items []any) bool {
	for _, it := range items {
		if _, ok := it.(*object); !ok {
			return false
		}
	}
	return true
}

func at(items []any, i int) any {
	if i < len(items) {
		return items[i]
	}
	return nil
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func memberPath(parent, name string) string {
	if identifier.MatchString(name) {
		return parent + "." + name
	}
	return parent + "[" + strconv.Quote(name) + "]"
}

// object is a decoded JSON object that remembers the order of its members.
type object struct {
	keys   []string
	values map[string]any
}

// MarshalJSON writes the members sorted by name, the canonical form the
// diff stores and hashes.
func (o *object) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(o.values))
	for k, v := range o.values {
		m[k] = v
	}
	return json.Marshal(m)
}

// decodeOrdered decodes one JSON value keeping member order; numbers stay
// json.Number and null members are dropped.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeNext(dec)
	if err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func decodeNext(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			items := []any{}
			for dec.More() {
				v, err := decodeNext(dec)
				if err != nil {
					return nil, err
				}
				items = append(items, v)
			}
			_, err := dec.Token() // ]
			return items, err
		}
		o := &object{values: map[string]any{}}
		for dec.More() {
			keyTok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key := keyTok.(string)
			v, err := decodeNext(dec)
			if err != nil {
				return nil, err
			}
			if v == nil {
				continue
			}
			if _, dup := o.values[key]; !dup {
				o.keys = append(o.keys, key)
			}
			o.values[key] = v
		}
		_, err := dec.Token() // }
		return o, err
	default:
		return tok, nil // string, json.Number, bool or nil
	}
}

// equalJSON compares two decoded values; numbers compare by value.
func equalJSON(a, b any) bool {
	switch x := a.(type) {
	case *object:
		y, ok := b.(*object)
		if !ok || len(x.values) != len(y.values) {
			return false
		}
		for k, v := range x.values {
			w, ok := y.values[k]
			if !ok || !equalJSON(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, equalJSON)
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		fx, errx := x.Float64()
		fy, erry := y.Float64()
		return errx == nil && erry == nil && fx == fy
	default:
		return a == b
	}
}

func encodeValue(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		panic("approvals: encode a decoded JSON value: " + err.Error()) // decoded JSON always encodes
	}
	return raw
}

// Hash is the SHA-256 of a request revision's canonical change: kind,
// cluster, payload and diff (see diffHash). Approvals are bound to it.
type Hash [32]byte

// String returns the hash in hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Short returns the first 12 hex digits, for display.
func (h Hash) Short() string { return h.String()[:12] }

// diffHash hashes what an approver approves: the operation, its target and
// every change. The base resource version is bound separately.
func diffHash(kind Kind, clusterUID, clusterName string, payload Payload, d Diff) Hash {
	canonical, err := json.Marshal(struct {
		Kind    Kind    `json:"kind"`
		Cluster string  `json:"cluster"`
		Name    string  `json:"name"`
		Payload Payload `json:"payload"`
		Changes Diff    `json:"changes"`
	}{kind, clusterUID, clusterName, payload, cmpOrEmpty(d)})
	if err != nil {
		panic("approvals: encode diff: " + err.Error()) // plain data always encodes
	}
	return sha256.Sum256(canonical)
}

func cmpOrEmpty(d Diff) Diff {
	if d == nil {
		return Diff{}
	}
	return d
}

// overlaps reports whether two field paths touch the same field: equal, or
// one inside the other.
func overlaps(a, b string) bool {
	if a == b {
		return true
	}
	short, long := a, b
	if len(short) > len(long) {
		short, long = long, short
	}
	return strings.HasPrefix(long, short) && (long[len(short)] == '.' || long[len(short)] == '[')
}
