package specform

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// EncodeJSON is spec as the JSON editor shows it: indented, every member
// kept.
func EncodeJSON(spec cloudapi.ClusterSpec) string {
	raw, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return "{}" // a spec read from JSON marshals; nothing else reaches here
	}
	return string(raw)
}

// JSONError is a specification the JSON editor holds that cannot be read.
// Line and Column (from 1) point at the problem when it is a syntax error.
type JSONError struct {
	Line, Column int
	Problem      string
}

func (e *JSONError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("Line %d, column %d: %s", e.Line, e.Column, e.Problem)
	}
	return e.Problem
}

// DecodeJSON reads the JSON editor's text: one JSON object, the spec.
// Members the portal does not know are kept. Errors are *JSONError.
func DecodeJSON(text string) (cloudapi.ClusterSpec, error) {
	data := []byte(text)
	if len(bytes.TrimSpace(data)) == 0 {
		return cloudapi.ClusterSpec{}, &JSONError{Problem: "The specification is empty: write a JSON object such as {\"version\": \"2024.01\", …}."}
	}
	// Syntax first, on the whole text, so that the position is the text's.
	dec := json.NewDecoder(bytes.NewReader(data))
	var doc json.RawMessage
	if err := dec.Decode(&doc); err != nil {
		return cloudapi.ClusterSpec{}, positioned(data, err)
	}
	if dec.More() || dec.InputOffset() < int64(len(bytes.TrimRight(data, " \t\r\n"))) {
		line, col := position(data, dec.InputOffset())
		return cloudapi.ClusterSpec{}, &JSONError{Line: line, Column: col, Problem: "there is more after the end of the JSON object"}
	}
	if t := bytes.TrimSpace(doc); t[0] != '{' {
		return cloudapi.ClusterSpec{}, &JSONError{Line: 1, Column: 1, Problem: "the specification must be a JSON object, {…}"}
	}
	var spec cloudapi.ClusterSpec
	if err := json.Unmarshal(doc, &spec); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			where := cmp.Or(strings.TrimPrefix(te.Field, "."), wrappedPath(err, te), "a value")
			return cloudapi.ClusterSpec{}, &JSONError{Problem: fmt.Sprintf("%s must be %s, not a JSON %s", where, goKind(te.Type.Kind().String()), te.Value)}
		}
		return cloudapi.ClusterSpec{}, &JSONError{Problem: err.Error()}
	}
	return spec, nil
}

// wrappedPath is the member path the cloudapi decoders put before a type
// error they pass on ("master: replicas: json: cannot …" is
// master.replicas), "" when there is none.
func wrappedPath(err error, te *json.UnmarshalTypeError) string {
	prefix, ok := strings.CutSuffix(err.Error(), te.Error())
	if !ok || prefix == "" {
		return ""
	}
	return strings.ReplaceAll(strings.TrimSuffix(prefix, ": "), ": ", ".")
}

func goKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "a whole number"
	case k == "bool":
		return "true or false"
	case k == "string":
		return "a string"
	case k == "slice":
		return "an array"
	case k == "struct", k == "map":
		return "an object"
	}
	return "of another type"
}

// positioned turns a decoding error into a JSONError with the line and
// column of its offset.
func positioned(data []byte, err error) *JSONError {
	var offset int64
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		offset = syntax.Offset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		offset = int64(len(data))
		line, col := position(data, offset)
		return &JSONError{Line: line, Column: col, Problem: "the JSON ends too early (a missing } or ]?)"}
	default:
		return &JSONError{Problem: err.Error()}
	}
	line, col := position(data, offset)
	return &JSONError{Line: line, Column: col, Problem: syntax.Error()}
}

// position is the line and column (from 1, in characters) of byte offset
// in data. A SyntaxError's offset is just past the offending byte.
func position(data []byte, offset int64) (line, col int) {
	offset = min(max(offset, 1), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	col = len([]rune(string(before[lineStart:])))
	return line, max(col, 1)
}
