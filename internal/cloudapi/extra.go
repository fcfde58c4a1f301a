package cloudapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The API's objects may carry members this client does not know (newer
// releases, undocumented fields), and known members in forms the typed
// fields would not write back (null, "", 3.0, a number as a string). Every
// type keeps both in its Extra map, so that a document read from the API
// and written back is the document read. The two helpers below do the
// work for each type's MarshalJSON and UnmarshalJSON; each type passes a
// method-less copy of itself ("plain") to avoid recursion.
//
// What Extra holds, by member name:
//
//   - a member the type has no field for: its value, written back as is;
//   - a member the type has a field for, whose value the field alone would
//     write as another JSON value or not at all (null, "" in an omitted
//     string, 3.0 for an integer, "42", a zone-less timestamp): the value
//     as read. It is written instead of the field's value while
//     the field still holds what that value reads as; once the field is
//     changed (a form sets replicas), the field's value is written;
//   - a member the type always writes (metadata, spec, resourceVersion,
//     updateState's members, a name/value's name, an event's message) that
//     the document did not have: a nil value. The member stays absent
//     while the field holds its zero value.
//
// The contract is JSON equality, not bytes: encode(decode(x)) is the JSON
// value x, but members come out in field order, then the unknown ones
// sorted by name, and white space is not kept. Exceptions: a member whose
// name matches a field only when case is ignored (encoding/json's rule) is
// read into that field and written under the field's name; when a
// document repeats a member name, the last one counts.

// Lenient reading, for members the reference types loosely or a tenant may
// write differently than documented; the value read is normalised before
// decoding, and the member as read is kept in Extra as above:
//
//   - integers (replicas, diskSize, resourceVersion…): a whole number in
//     any notation (3.0, 3e0) and a whole number in a string ("42");
//   - timestamps: RFC 3339, or without a zone ("2024-05-01T10:00:00",
//     read as UTC, a space instead of T allowed), or with a zone written
//     +hhmm, or a number of milliseconds since 1970 (1714557600000);
//   - integers, booleans and timestamps given as "": not set.

// decodeObject unmarshals the JSON object data into known (a pointer to a
// struct) member by member, leniently, and returns what Extra keeps (see
// above). A JSON null leaves known untouched and returns no members.
// Errors name the member that could not be read, joined by ": " from the
// outermost, e.g. "spec: master: replicas: json: cannot unmarshal …".
func decodeObject(data []byte, known any) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(data)
	if bytes.Equal(trimmed, []byte("null")) {
		return nil, nil
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		// Not an object: let encoding/json word the error.
		if err := json.Unmarshal(data, known); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("cloudapi: want a JSON object, got %.20s", trimmed)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return nil, err
	}
	v := reflect.ValueOf(known).Elem()
	info := objectInfoOf(v.Type())
	var extra map[string]json.RawMessage
	keep := func(name string, raw json.RawMessage) {
		if extra == nil {
			extra = map[string]json.RawMessage{}
		}
		extra[name] = raw
	}
	read := make([]bool, len(info.members))
	for i, m := range info.members {
		raw, ok := members[m.name]
		if !ok {
			continue
		}
		read[i] = true
		delete(members, m.name)
		field := v.Field(m.index)
		if err := decodeMember(raw, field, m); err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
		if same, err := writesBack(raw, field, m); err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		} else if !same {
			keep(m.name, raw)
		}
	}
	// What is left is unknown, except names that match a field only when
	// case is ignored, which encoding/json reads into that field. A field
	// takes one member: its exact name, else the first such name in
	// sorted order; the others stay unknown members.
	for _, name := range slices.Sorted(maps.Keys(members)) {
		i := slices.IndexFunc(info.members, func(m member) bool { return strings.EqualFold(m.name, name) })
		if i < 0 || read[i] {
			keep(name, members[name])
			continue
		}
		read[i] = true
		if err := decodeMember(members[name], v.Field(info.members[i].index), info.members[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	for i, m := range info.members {
		if !read[i] && m.always() {
			keep(m.name, nil)
		}
	}
	return extra, nil
}

// encodeObject marshals known (a struct value) with its extra members (see
// above): the fields in order, each as extra remembers it while it holds
// the value remembered, else as encoding/json writes it, then the unknown
// members sorted by name. Errors: an unknown member that is not valid JSON,
// or a field that does not marshal.
func encodeObject(known any, extra map[string]json.RawMessage) ([]byte, error) {
	if len(extra) == 0 {
		return json.Marshal(known)
	}
	v := reflect.ValueOf(known)
	info := objectInfoOf(v.Type())
	var buf bytes.Buffer
	buf.WriteByte('{')
	write := func(name string, value []byte) {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		quoted, _ := json.Marshal(name) // a string always marshals
		buf.Write(quoted)
		buf.WriteByte(':')
		buf.Write(value)
	}
	for _, m := range info.members {
		field := v.Field(m.index)
		if raw, remembered := extra[m.name]; remembered && readsAs(raw, field, m) {
			if raw != nil {
				write(m.name, raw)
			}
			continue
		}
		value, present, err := encodeMember(field, m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
		if present {
			write(m.name, value)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		if _, isField := info.byName[k]; isField {
			continue
		}
		if !json.Valid(extra[k]) {
			return nil, fmt.Errorf("cloudapi: extra member %q is not valid JSON", k)
		}
		write(k, extra[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// decodeMember reads raw, normalised for m's kind, into field.
func decodeMember(raw json.RawMessage, field reflect.Value, m member) error {
	norm, set := lenient(raw, m.kind)
	if !set {
		return nil
	}
	return json.Unmarshal(norm, field.Addr().Interface())
}

// writesBack reports whether field, just read from raw, writes back the
// same JSON value (escapes and spacing aside, numbers as written). Objects
// and lists of the API's types keep their own members, so only their null
// needs remembering; raw JSON values are kept as read.
func writesBack(raw json.RawMessage, field reflect.Value, m member) (bool, error) {
	switch {
	case m.kind == kindRaw:
		return true, nil
	case m.kind == kindObject && !isScalar(raw):
		return true, nil
	}
	if same, known := writesBackPlain(raw, field, m); known {
		return same, nil
	}
	value, present, err := encodeMember(field, m)
	if err != nil || !present {
		return false, err
	}
	return bytes.Equal(value, raw) || sameJSON(value, raw), nil
}

// writesBackPlain answers writesBack without encoding for the common
// members: a plain string (no escapes, nothing encoding/json escapes), an
// integer in its shortest form, a boolean. It reports false when it cannot
// tell.
func writesBackPlain(raw json.RawMessage, field reflect.Value, m member) (same, known bool) {
	if field.Kind() == reflect.Pointer {
		if field.IsNil() {
			return false, false
		}
		field = field.Elem()
	} else if (m.omitEmpty && isEmpty(field)) || (m.omitZero && isZero(field)) {
		return false, false
	}
	switch field.Kind() {
	case reflect.String:
		if len(raw) < 2 || raw[0] != '"' {
			return false, false
		}
		for _, b := range raw[1 : len(raw)-1] {
			if b == '\\' || b == '"' || b < 0x20 || b >= 0x80 || b == '<' || b == '>' || b == '&' {
				return false, false
			}
		}
		return field.String() == string(raw[1:len(raw)-1]), true
	case reflect.Int32, reflect.Int64, reflect.Int:
		return string(raw) == strconv.FormatInt(field.Int(), 10), true
	case reflect.Bool:
		return string(raw) == strconv.FormatBool(field.Bool()), true
	}
	return false, false
}

// sameJSON reports whether a and b are the same JSON value, numbers
// compared as written.
func sameJSON(a, b []byte) bool {
	va, errA := decodeJSON(a)
	vb, errB := decodeJSON(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

// readsAs reports whether field holds what raw, a member kept in Extra,
// reads as: the field has not changed since it was read. A nil raw is a
// member that was absent, which reads as the zero value.
func readsAs(raw json.RawMessage, field reflect.Value, m member) bool {
	if raw == nil {
		return field.IsZero()
	}
	if !json.Valid(raw) {
		return false
	}
	probe := reflect.New(field.Type()).Elem()
	if decodeMember(raw, probe, m) != nil {
		return false
	}
	want, wantPresent, err := encodeMember(probe, m)
	if err != nil {
		return false
	}
	have, havePresent, err := encodeMember(field, m)
	return err == nil && wantPresent == havePresent && bytes.Equal(want, have)
}

// encodeMember returns field as encoding/json writes it in its struct, and
// whether it is written at all (omitempty, omitzero).
func encodeMember(field reflect.Value, m member) ([]byte, bool, error) {
	if (m.omitEmpty && isEmpty(field)) || (m.omitZero && isZero(field)) {
		return nil, false, nil
	}
	value, err := json.Marshal(field.Interface())
	return value, err == nil, err
}

// isEmpty is encoding/json's omitempty test.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// isZero is encoding/json's omitzero test: the IsZero method when the type
// has one, else the zero value.
func isZero(v reflect.Value) bool {
	if z, ok := v.Interface().(interface{ IsZero() bool }); ok {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return true
		}
		return z.IsZero()
	}
	return v.IsZero()
}

func isScalar(raw json.RawMessage) bool {
	return len(raw) > 0 && raw[0] != '{' && raw[0] != '['
}

// lenient returns raw normalised for kind (see "Lenient reading" above),
// and false when raw reads as "not set". Values it cannot normalise are
// returned as they are, for encoding/json to refuse.
func lenient(raw json.RawMessage, kind memberKind) (json.RawMessage, bool) {
	if kind != kindInteger && kind != kindBool && kind != kindTime {
		return raw, true
	}
	if string(raw) == `""` {
		return nil, false
	}
	switch kind {
	case kindInteger:
		if n, ok := wholeNumber(raw); ok {
			return json.RawMessage(n), true
		}
	case kindTime:
		if t, ok := timestamp(raw); ok {
			if out, err := t.MarshalJSON(); err == nil {
				return out, true
			}
		}
	}
	return raw, true
}

// wholeNumber returns raw as the digits of an integer when it is a number
// with a fraction or exponent, or a string holding a number, whose value
// is whole.
func wholeNumber(raw json.RawMessage) (string, bool) {
	s := string(raw)
	if raw[0] == '"' {
		if json.Unmarshal(raw, &s) != nil || s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') || !json.Valid([]byte(s)) {
			return "", false
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return strconv.FormatInt(n, 10), true
		}
	}
	if !strings.ContainsAny(s, ".eE") {
		return "", false // an integer already (or one too large), or not a number
	}
	// Bound the work: a whole number this client stores fits in 64 bits.
	if len(s) > 64 {
		return "", false
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		if exp, err := strconv.Atoi(s[i+1:]); err != nil || exp > 40 || exp < -40 {
			return "", false
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() {
		return "", false
	}
	return r.Num().String(), true
}

// zonelessLayouts are the timestamp forms read besides RFC 3339; those
// without a zone are read as UTC. Fractional seconds are accepted by each.
var zonelessLayouts = []string{
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05Z0700",
}

// timestamp reads raw as a time in a form other than RFC 3339: false when
// raw is RFC 3339 (encoding/json reads it) or no time at all.
func timestamp(raw json.RawMessage) (time.Time, bool) {
	if raw[0] != '"' {
		if n, ok := wholeNumber(raw); ok {
			raw = json.RawMessage(n)
		}
		ms, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.UnixMilli(ms).UTC(), true
	}
	var t time.Time
	if json.Unmarshal(raw, &t) == nil {
		return time.Time{}, false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return time.Time{}, false
	}
	for _, layout := range zonelessLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// memberKind says how a field is read leniently and remembered.
type memberKind uint8

const (
	kindOther   memberKind = iota // strings, lists of strings
	kindInteger                   // int32, int64, and pointers to them
	kindBool                      // bool, *bool
	kindTime                      // time.Time
	kindRaw                       // json.RawMessage: kept as read
	kindObject                    // the API's object types, lists of them, pointers to them
)

// member is one JSON member of a struct type: an exported field without
// json:"-".
type member struct {
	name      string
	index     int
	omitEmpty bool
	omitZero  bool
	kind      memberKind
}

// always reports whether encoding/json writes the member whatever its
// value.
func (m member) always() bool { return !m.omitEmpty && !m.omitZero }

type objectInfo struct {
	members []member
	byName  map[string]int // index in members
}

var objectInfoCache sync.Map // reflect.Type -> *objectInfo

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// objectInfoOf describes the JSON members of a struct type.
func objectInfoOf(t reflect.Type) *objectInfo {
	if info, ok := objectInfoCache.Load(t); ok {
		return info.(*objectInfo)
	}
	info := &objectInfo{byName: map[string]int{}}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			if opts == "" {
				continue
			}
		case "":
			name = f.Name
		}
		m := member{name: name, index: f.Index[0], kind: kindOf(f.Type)}
		for opt := range strings.SplitSeq(opts, ",") {
			m.omitEmpty = m.omitEmpty || opt == "omitempty"
			m.omitZero = m.omitZero || opt == "omitzero"
		}
		info.byName[name] = len(info.members)
		info.members = append(info.members, m)
	}
	objectInfoCache.Store(t, info)
	return info
}

func kindOf(t reflect.Type) memberKind {
	if t == rawType {
		return kindRaw
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return kindTime
	case t.Kind() == reflect.Int32 || t.Kind() == reflect.Int64 || t.Kind() == reflect.Int:
		return kindInteger
	case t.Kind() == reflect.Bool:
		return kindBool
	case t.Kind() == reflect.Struct:
		return kindObject
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return kindObject
	}
	return kindOther
}
