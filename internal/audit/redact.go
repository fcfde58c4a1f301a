package audit

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
)

// Redacted replaces every secret value in a payload.
const Redacted = "[redacted]"

// secretKeyParts are fragments of key names whose values are secrets. Keys
// are compared in lower case with '_', '-' and '.' removed, so clientSecret,
// client_secret and CLIENT-SECRET all match "secret", and initialDruidPassword
// matches "password".
var secretKeyParts = []string{
	"password", "passwd", "passphrase", "secret", "token", "authorization",
	"cookie", "apikey", "privatekey", "credential", "sessionid", "signature",
}

// secretValue matches strings that are secrets whatever their key: bearer
// and basic credentials and JSON Web Tokens.
var secretValue = regexp.MustCompile(`(?i)^\s*(bearer|basic)\s+\S+|^eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)

// IsSecretKey reports whether values under key must never be stored.
func IsSecretKey(key string) bool {
	k := strings.NewReplacer("_", "", "-", "", ".", "").Replace(strings.ToLower(key))
	for _, part := range secretKeyParts {
		if strings.Contains(k, part) {
			return true
		}
	}
	return false
}

// Redact returns a copy of a decoded JSON value (maps, slices, strings,
// numbers, booleans, nil) in which every secret is replaced by Redacted: the
// whole value under a secret-looking key, at any depth and inside arrays;
// bearer, basic and JWT strings anywhere; and the password in a URL's
// user information.
func Redact(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, item := range v {
			if IsSecretKey(k) && item != nil {
				out[k] = Redacted
				continue
			}
			out[k] = Redact(item)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = Redact(item)
		}
		return out
	case string:
		return redactString(v)
	default:
		return v
	}
}

func redactString(s string) string {
	if secretValue.MatchString(s) {
		return Redacted
	}
	if strings.Contains(s, "://") && strings.Contains(s, "@") {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
				return strings.Replace(u.String(), ":xxxxx@", ":"+Redacted+"@", 1)
			}
		}
	}
	return s
}

// normalizeData turns a payload into the stored form: encoded as JSON (so
// struct tags apply), secrets redacted, strings made storable, and numbers
// that tools could print differently kept as strings (see keepAsNumber).
// A nil payload becomes {}.
func normalizeData(data any) (any, error) {
	if data == nil {
		return map[string]any{}, nil
	}
	raw, ok := data.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			return nil, err
		}
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if v == nil {
		return map[string]any{}, nil
	}
	return normalizeValue(Redact(v)), nil
}

func normalizeValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, item := range v {
			out[cleanText(k)] = normalizeValue(item)
		}
		return out
	case []any:
		for i, item := range v {
			v[i] = normalizeValue(item)
		}
		return v
	case string:
		return cleanText(v)
	case json.Number:
		if keepAsNumber(v) {
			return json.Number(canonicalNumber(v))
		}
		return string(v)
	default:
		return v
	}
}
