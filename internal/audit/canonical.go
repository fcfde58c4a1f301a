package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Hash is a SHA-256 digest; it prints as 64 lowercase hex digits.
type Hash [sha256.Size]byte

// String is the hash in lowercase hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText writes the hash in lowercase hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads 64 hex digits.
func (h *Hash) UnmarshalText(text []byte) error {
	parsed, err := ParseHash(string(text))
	*h = parsed
	return err
}

// ParseHash reads 64 hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("audit: %q is not a SHA-256 hash in hex", s)
	}
	copy(h[:], b)
	return h, nil
}

// Genesis is the prev_hash of the first event: 32 zero bytes.
var Genesis Hash

// TimeFormat is how times appear in the canonical line and in exports:
// RFC 3339 in UTC with exactly six fractional digits (PostgreSQL keeps
// microseconds).
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Entry is one stored event.
type Entry struct {
	Seq     int64
	At      time.Time
	Actor   Actor
	Action  Action
	Subject Subject
	Origin  Origin
	// Data is the event's details as canonical JSON, already redacted.
	Data     json.RawMessage
	PrevHash Hash
	Hash     Hash
}

// Canonical returns the line that Hash is the SHA-256 of: a JSON object with
// the fields below, keys sorted at every depth, no insignificant space, and a
// final newline. It is byte for byte what `jq -cS` prints for the same object
// (see docs/audit.md), so an auditor can recompute any hash with standard
// tools:
//
//	{"action":…,"actor":{"id":…,"name":…,"type":…},"at":"2025-01-31T09:00:00.000000Z",
//	 "data":{…},"origin":{"ip":…,"request_id":…},"prev_hash":"<hex>","seq":N,
//	 "subject":{"id":…,"type":…}}
func (e Entry) Canonical() ([]byte, error) {
	var b bytes.Buffer
	b.Grow(256 + len(e.Data))
	if err := e.writeCanonical(&b, false); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// ComputeHash is the SHA-256 of the canonical line.
func (e Entry) ComputeHash() (Hash, error) {
	var b bytes.Buffer
	b.Grow(256 + len(e.Data))
	return e.hashWith(&b)
}

// hashWith is ComputeHash writing the canonical line into b, which it
// resets first, so that a caller hashing many events reuses one buffer.
func (e Entry) hashWith(b *bytes.Buffer) (Hash, error) {
	b.Reset()
	if err := e.writeCanonical(b, false); err != nil {
		return Hash{}, err
	}
	b.WriteByte('\n')
	return sha256.Sum256(b.Bytes()), nil
}

// writeCanonical writes the canonical object; withHash adds the "hash" key
// in its sorted place, which is the JSON Lines export format.
func (e Entry) writeCanonical(b *bytes.Buffer, withHash bool) error {
	b.WriteString(`{"action":`)
	writeString(b, string(e.Action))
	b.WriteString(`,"actor":{"id":`)
	writeString(b, e.Actor.ID)
	b.WriteString(`,"name":`)
	writeString(b, e.Actor.Name)
	b.WriteString(`,"type":`)
	writeString(b, string(e.Actor.Type))
	b.WriteString(`},"at":"`)
	b.WriteString(e.At.UTC().Format(TimeFormat))
	b.WriteString(`","data":`)
	if err := canonicalJSON(b, e.Data); err != nil {
		return fmt.Errorf("audit: event %d: data: %w", e.Seq, err)
	}
	if withHash {
		b.WriteString(`,"hash":"`)
		b.WriteString(e.Hash.String())
		b.WriteByte('"')
	}
	b.WriteString(`,"origin":{"ip":`)
	writeString(b, e.Origin.IP)
	b.WriteString(`,"request_id":`)
	writeString(b, e.Origin.RequestID)
	b.WriteString(`},"prev_hash":"`)
	b.WriteString(e.PrevHash.String())
	b.WriteString(`","seq":`)
	b.WriteString(strconv.FormatInt(e.Seq, 10))
	b.WriteString(`,"subject":{"id":`)
	writeString(b, e.Subject.ID)
	b.WriteString(`,"type":`)
	writeString(b, string(e.Subject.Type))
	b.WriteString("}}")
	return nil
}

// canonicalJSON re-encodes one JSON text canonically.
func canonicalJSON(b *bytes.Buffer, raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("more than one JSON value")
	}
	writeValue(b, v)
	return nil
}

// writeValue writes a decoded JSON value (decoded with UseNumber) with keys
// sorted by their UTF-8 bytes, as jq -S does.
func writeValue(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case json.Number:
		b.WriteString(canonicalNumber(v))
	case string:
		writeString(b, v)
	case []any:
		b.WriteByte('[')
		for i, item := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeValue(b, item)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			writeValue(b, v[k])
		}
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("audit: unexpected JSON value %T", v))
	}
}

// canonicalNumber is the shortest decimal that reads back as the same 64-bit
// float, never in exponent form. Append keeps only numbers for which this is
// exact and which every common tool prints the same way (see keepAsNumber).
func canonicalNumber(n json.Number) string {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		return string(n)
	}
	if f == 0 {
		return "0" // no negative zero: PostgreSQL's numeric has none
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// keepAsNumber reports whether a number can stay a number: its canonical
// form has exactly its value, and jq (1.6 and 1.7), Python and PostgreSQL
// all print that form unchanged. That holds for zero and for magnitudes from
// 0.0001 up to 10^15. Anything else is stored as a string of its literal, so
// no digit is lost and no tool rewrites it.
func keepAsNumber(n json.Number) bool {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return false
	}
	if a := math.Abs(f); f != 0 && (a < 1e-4 || a >= 1e15) {
		return false
	}
	want, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return false
	}
	got, _ := new(big.Rat).SetString(canonicalNumber(n))
	return got != nil && want.Cmp(got) == 0
}

// writeString writes s as a JSON string escaped the way jq does: \" \\ \b
// \f \n \r \t, other control characters and DEL as \u00xx, everything else
// as raw UTF-8. Invalid UTF-8 becomes U+FFFD.
func writeString(b *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b.WriteString("\uFFFD")
			} else {
				b.WriteString(s[i : i+size])
			}
			i += size
			continue
		}
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 || c == 0x7f {
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			} else {
				b.WriteByte(c)
			}
		}
		i++
	}
	b.WriteByte('"')
}

// cleanText makes a string storable and stable: valid UTF-8, no NUL (which
// PostgreSQL text and jsonb cannot hold).
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
