package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
)

// ExportCheck is the outcome of checking a JSON Lines export offline.
type ExportCheck struct {
	OK bool
	// Events is how many lines were checked.
	Events int64
	// Gaps counts places where one line's seq does not follow the one
	// before: expected in a filtered export, where only consecutive lines
	// can be linked.
	Gaps int64
	// FirstSeq and LastSeq are the first and last events; LastHash is the
	// last one's hash, to compare with a published chain head.
	FirstSeq, LastSeq int64
	LastHash          Hash
	// Line and Problem say where and how the file fails.
	Line    int64
	Problem string
}

// String is the one-line report.
func (c ExportCheck) String() string {
	if !c.OK {
		return fmt.Sprintf("BROKEN at line %d: %s", c.Line, c.Problem)
	}
	s := fmt.Sprintf("ok, %d events (seq %d to %d), last hash %s", c.Events, c.FirstSeq, c.LastSeq, c.LastHash)
	if c.Gaps > 0 {
		s += fmt.Sprintf("; %d gaps, as in a filtered export: events are checked one by one, links only where seq follows on", c.Gaps)
	}
	return s
}

// VerifyExport checks a JSON Lines export (Export with FormatJSONL) without
// the database, the way docs/audit.md does it with jq: each line without its
// "hash" key, written canonically, must hash to that key, and each line whose
// seq follows the line before must name that line's hash as prev_hash. It
// reads line by line, in constant memory. An error means the file could not
// be read; a failed check is an ExportCheck with OK false.
func VerifyExport(r io.Reader) (ExportCheck, error) {
	var c ExportCheck
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var prevSeq int64
	var prevHash Hash
	fail := func(problem string, args ...any) (ExportCheck, error) {
		c.Problem = fmt.Sprintf(problem, args...)
		return c, nil
	}
	for sc.Scan() {
		c.Line++
		var obj map[string]any
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			return fail("not a JSON object: %v", err)
		}
		var fields struct {
			Seq      int64 `json:"seq"`
			Hash     Hash  `json:"hash"`
			PrevHash Hash  `json:"prev_hash"`
		}
		if err := json.Unmarshal(sc.Bytes(), &fields); err != nil {
			return fail("missing or malformed seq, hash or prev_hash: %v", err)
		}
		delete(obj, "hash")
		var line bytes.Buffer
		writeValue(&line, obj)
		line.WriteByte('\n')
		if got := Hash(sha256.Sum256(line.Bytes())); got != fields.Hash {
			return fail("event %d: its contents do not match its hash (stored %s, computed %s)", fields.Seq, fields.Hash, got)
		}
		switch {
		case c.Events == 0:
			c.FirstSeq = fields.Seq
		case fields.Seq <= prevSeq:
			return fail("event %d comes after event %d: an export lists events in chain order", fields.Seq, prevSeq)
		case fields.Seq == prevSeq+1 && fields.PrevHash != prevHash:
			return fail("event %d: its prev_hash is not the hash of event %d on the line before", fields.Seq, prevSeq)
		case fields.Seq != prevSeq+1:
			c.Gaps++
		}
		prevSeq, prevHash = fields.Seq, fields.Hash
		c.Events++
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("audit: read export: %w", err)
	}
	c.OK, c.LastSeq, c.LastHash, c.Line = true, prevSeq, prevHash, 0
	return c, nil
}
