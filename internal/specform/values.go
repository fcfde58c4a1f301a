package specform

import (
	"bytes"
	"encoding/json"
	"strings"
)

// A NameValue's value is any JSON value. The form shows it as text and
// reads it back so that nothing changes by being shown:
//
//   - A JSON string is shown plainly (60, not "60"), unless the plain text
//     would read back as something else: a string holding a line break or
//     starting with a double quote is shown as a quoted JSON string.
//   - Any other JSON value (number, true/false, object, array, null) is
//     shown as compact JSON.
//
// Reading text back (ParseValue), in this order:
//
//   - text equal to how the item's current value is shown keeps that value
//     exactly (its type and its formatting; "" keeps an absent value absent);
//   - a quoted JSON string ("60") is that string: the way to force a string;
//   - when the current value is a string, the text stays a string (editing
//     "60" to 70 keeps a string);
//   - text that is a JSON number, true/false, object or array keeps that type;
//   - anything else is a string.

// DisplayValue is the text the form shows for a NameValue's value; an
// absent value is "".
func DisplayValue(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if strings.ContainsAny(s, "\r\n") || strings.HasPrefix(s, `"`) {
			quoted, _ := json.Marshal(s) // a string always marshals
			return string(quoted)
		}
		return s
	}
	var compact bytes.Buffer
	if json.Compact(&compact, raw) != nil {
		return string(raw)
	}
	return compact.String()
}

// ParseValue reads the text of a value input back into JSON. current is
// the item's value before the edit (nil for a new item or an absent value);
// an empty text on a new item is no value (nil).
func ParseValue(text string, current json.RawMessage) json.RawMessage {
	if DisplayValue(current) == text {
		return current // unchanged; an empty text of a new item is no value
	}
	trimmed := strings.TrimSpace(text)
	if strings.HasPrefix(trimmed, `"`) {
		var s string
		if json.Unmarshal([]byte(trimmed), &s) == nil {
			return stringValue(s)
		}
	}
	if current != nil && isJSONString(current) {
		return stringValue(text)
	}
	if trimmed != "" && strings.ContainsRune("{[-0123456789tf", rune(trimmed[0])) && json.Valid([]byte(trimmed)) {
		var compact bytes.Buffer
		_ = json.Compact(&compact, []byte(trimmed)) // valid JSON compacts
		return compact.Bytes()
	}
	return stringValue(text)
}

func stringValue(s string) json.RawMessage {
	raw, _ := json.Marshal(s) // a string always marshals
	return raw
}

func isJSONString(raw json.RawMessage) bool {
	trimmed := bytes.TrimSpace(raw)
	return len(trimmed) > 0 && trimmed[0] == '"'
}
