package cloudapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// The API's objects may carry members this client does not know (newer
// releases, undocumented fields). Every type keeps them in an Extra map so
// that a document read from the API and written back is complete. The two
// helpers below do the work for each type's MarshalJSON and UnmarshalJSON;
// each type passes a method-less copy of itself ("plain") to avoid recursion.

// decodeObject unmarshals data into known and returns the members of the
// JSON object that known has no field for. A JSON null leaves known untouched
// and returns no members.
func decodeObject(data []byte, known any) (map[string]json.RawMessage, error) {
	if err := json.Unmarshal(data, known); err != nil {
		return nil, err
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil, nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return nil, err
	}
	names := fieldNames(reflect.TypeOf(known).Elem())
	for name := range members {
		// encoding/json matches member names to fields without regard to
		// case, so a member it decoded into a field is not an extra one.
		if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) }) {
			delete(members, name)
		}
	}
	if len(members) == 0 {
		return nil, nil
	}
	return members, nil
}

// encodeObject marshals known (a struct) and appends the extra members,
// sorted by name. Extra members whose name a field already uses are
// ignored: the typed field wins.
func encodeObject(known any, extra map[string]json.RawMessage) ([]byte, error) {
	data, err := json.Marshal(known)
	if err != nil || len(extra) == 0 {
		return data, err
	}
	names := fieldNames(reflect.TypeOf(known))
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if !slices.Contains(names, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)

	var buf bytes.Buffer
	buf.Write(data[:len(data)-1]) // drop the closing brace
	for _, k := range keys {
		if !json.Valid(extra[k]) {
			return nil, fmt.Errorf("cloudapi: extra member %q is not valid JSON", k)
		}
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		name, _ := json.Marshal(k)
		buf.Write(name)
		buf.WriteByte(':')
		buf.Write(extra[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

var fieldNameCache sync.Map // reflect.Type -> []string

// fieldNames lists the JSON member names of a struct type's exported fields.
func fieldNames(t reflect.Type) []string {
	if names, ok := fieldNameCache.Load(t); ok {
		return names.([]string)
	}
	var names []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names = append(names, name)
	}
	fieldNameCache.Store(t, names)
	return names
}
