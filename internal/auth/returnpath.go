package auth

import (
	"net/url"
	"strings"
)

// maxReturnPath bounds the page remembered across a sign-in.
const maxReturnPath = 2048

// SafeReturnPath returns raw when it is a path on this site that is safe to
// redirect to after sign-in, and "/" otherwise. Only relative paths that
// start with a single "/" pass: no scheme or host ("https://evil",
// "//evil"), no backslashes ("/\evil", which browsers read as "//evil"), no
// control characters (browsers drop tabs and newlines, so "/\t/evil" would
// become "//evil"), and nothing under /auth/ (which would loop).
func SafeReturnPath(raw string) string {
	if raw == "" || len(raw) > maxReturnPath || raw[0] != '/' {
		return "/"
	}
	if len(raw) > 1 && (raw[1] == '/' || raw[1] == '\\') {
		return "/"
	}
	for _, r := range raw {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	if u.Path == "/auth" || strings.HasPrefix(u.Path, "/auth/") {
		return "/"
	}
	return raw
}
