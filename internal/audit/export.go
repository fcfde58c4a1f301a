package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Format is an export file format.
type Format string

// The export formats.
const (
	// FormatCSV is one header row, then one row per event; data is the
	// canonical JSON of the payload. For spreadsheets.
	FormatCSV Format = "csv"
	// FormatJSONL is one canonical JSON object per line, with its hash: the
	// format to verify offline (docs/audit.md).
	FormatJSONL Format = "jsonl"
)

// Valid reports whether f is a known format.
func (f Format) Valid() bool { return f == FormatCSV || f == FormatJSONL }

// ContentType is the media type of an export in this format.
func (f Format) ContentType() string {
	if f == FormatCSV {
		return "text/csv; charset=utf-8"
	}
	return "application/jsonl; charset=utf-8"
}

// CSVHeader names the columns of a CSV export.
var CSVHeader = []string{
	"seq", "at", "actor_type", "actor_id", "actor_name", "action", "subject_type", "subject_id",
	"origin_ip", "origin_request_id", "data", "prev_hash", "hash",
}

// Export writes the events that match f with seq at most upTo, oldest first
// (chain order), to w. It streams: rows are written as they arrive from the
// database and nothing accumulates, so memory stays flat whatever the size.
// It returns the number of events written.
//
// Record the export first (RecordExport) and pass the seq before that event
// as upTo: the file then holds exactly what the log held when it was asked.
func Export(ctx context.Context, q Querier, f Filter, upTo int64, format Format, w io.Writer) (int64, error) {
	if !format.Valid() {
		return 0, fmt.Errorf("audit: export: unknown format %q", format)
	}
	var sql strings.Builder
	sql.WriteString("SELECT " + entryColumns + " FROM audit_log WHERE seq <= $1")
	args := f.where(&sql, []any{upTo})
	sql.WriteString(" ORDER BY seq ASC")
	rows, err := q.Query(ctx, sql.String(), withCustomPlan(args)...)
	if err != nil {
		return 0, fmt.Errorf("audit: export: %w", err)
	}
	defer rows.Close()

	out := bufio.NewWriterSize(w, 32<<10)
	var cw *csv.Writer
	if format == FormatCSV {
		cw = csv.NewWriter(out)
		if err := cw.Write(CSVHeader); err != nil {
			return 0, fmt.Errorf("audit: export: %w", err)
		}
	}
	var n int64
	var line bytes.Buffer
	record := make([]string, len(CSVHeader))
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
		line.Reset()
		if format == FormatJSONL {
			if err := e.writeCanonical(&line, true); err != nil {
				return n, err
			}
			line.WriteByte('\n')
			if _, err := out.Write(line.Bytes()); err != nil {
				return n, fmt.Errorf("audit: export: %w", err)
			}
		} else {
			if err := canonicalJSON(&line, e.Data); err != nil {
				return n, fmt.Errorf("audit: export: event %d: %w", e.Seq, err)
			}
			record[0] = strconv.FormatInt(e.Seq, 10)
			record[1] = e.At.Format(TimeFormat)
			record[2] = string(e.Actor.Type)
			record[3] = safeCell(e.Actor.ID)
			record[4] = safeCell(e.Actor.Name)
			record[5] = string(e.Action)
			record[6] = string(e.Subject.Type)
			record[7] = safeCell(e.Subject.ID)
			record[8] = safeCell(e.Origin.IP)
			record[9] = safeCell(e.Origin.RequestID)
			record[10] = line.String()
			record[11] = e.PrevHash.String()
			record[12] = e.Hash.String()
			if err := cw.Write(record); err != nil {
				return n, fmt.Errorf("audit: export: %w", err)
			}
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("audit: export: %w", err)
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
	}
	if err := out.Flush(); err != nil {
		return n, fmt.Errorf("audit: export: %w", err)
	}
	return n, nil
}

// safeCell keeps a spreadsheet from running a cell as a formula: text that
// starts with = + - @ or a tab or carriage return gets a leading apostrophe
// (OWASP's advice on CSV injection). The JSON Lines export is verbatim.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ExportRecord is the payload of an audit.exported event.
type ExportRecord struct {
	Format Format `json:"format"`
	Filter Filter `json:"filter"`
	// UpTo is the last seq the export may contain.
	UpTo int64 `json:"up_to_seq"`
}

// RecordExport appends the audit.exported event in a transaction of its own
// and returns the seq the export must stop at: the last event before this
// one.
func RecordExport(ctx context.Context, db Beginner, actor Actor, origin Origin, f Filter, format Format) (upTo int64, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		// Chain everything committed so far and keep the head locked, so
		// that the export holds every event committed before it was asked
		// and nothing lands between upTo and this event.
		var err error
		if upTo, err = chainPending(ctx, tx); err != nil {
			return err
		}
		_, err = appendChained(ctx, tx, Event{
			Actor: actor, Action: AuditExported, Subject: TheLog, Origin: origin,
			Data: ExportRecord{Format: format, Filter: f, UpTo: upTo},
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("audit: record export: %w", err)
	}
	return upTo, nil
}

// ExportIdleTimeout is how long an export over HTTP waits for a client that
// stops reading. A download that keeps flowing may take longer than the
// server's write timeout (a whole log of millions of events does).
const ExportIdleTimeout = time.Minute

// IdleWriter is w, a response being streamed, whose connection's write
// deadline moves ExportIdleTimeout forward with every write: an export is
// bounded by a stalled client, not by its length.
func IdleWriter(w http.ResponseWriter) io.Writer {
	return &idleWriter{w: w, rc: http.NewResponseController(w)}
}

type idleWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (d *idleWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(ExportIdleTimeout))
	return d.w.Write(p)
}
