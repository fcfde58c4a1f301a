package templates

import (
	"encoding/json"
	"strings"
)

// csrfHeaders is the hx-headers value that sends the CSRF token with every
// htmx request.
func csrfHeaders(token string) string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": token})
	return string(b)
}

// joinComma lists names for people: "a, b, c".
func joinComma(names []string) string { return strings.Join(names, ", ") }
