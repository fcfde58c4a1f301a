package seed

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// auditActions are the seeded events' kinds, weighted as a portal's log
// is: sign-ins and the life of requests more often than the rest.
var auditActions = []audit.Action{
	audit.AuthSignIn, audit.RequestCreated, audit.RequestApproved, audit.AuthSignIn, audit.SubmissionStarted,
	audit.SubmissionSucceeded, audit.SubmissionApplied, audit.RequestApproved, audit.RequestRejected,
	audit.RequestCancelled, audit.AuthSignOut, audit.RequestUpdated,
}

// AuditEvents appends n events to the audit log, hashed into its chain
// after the current head: actors are 200 people, subjects requests and
// the clusters seed-00001 to seed-00050, one event every 6.3 s ending now
// (or after the head, if it is later). They are written with COPY in one
// transaction that holds the chain head, as audit.Append would hold it, so
// appends meanwhile wait and the chain verifies (audit.Verify).
func AuditEvents(ctx context.Context, db *pgxpool.Pool, n int) error {
	if n <= 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var (
			seq    int64
			headAt time.Time
			hash   []byte
		)
		err := tx.QueryRow(ctx, "SELECT seq, greatest(at, 'epoch'), hash FROM audit_chain_head FOR UPDATE").Scan(&seq, &headAt, &hash)
		if err != nil {
			return fmt.Errorf("seed: audit events: chain head: %w", err)
		}
		var prev audit.Hash
		copy(prev[:], hash)
		const every = 6300 * time.Millisecond
		start := time.Now().UTC().Add(-since(n, every)).Truncate(time.Microsecond)
		if !headAt.Before(start) { // an empty log's head is at -infinity, read as the epoch
			start = headAt.UTC().Add(time.Microsecond)
		}
		i := 0
		var last audit.Entry
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			e := auditEntry(seq+int64(i)+1, start.Add(time.Duration(i)*every), i, prev)
			h, err := e.ComputeHash()
			if err != nil {
				return nil, err
			}
			e.Hash = h
			prev, last = h, e
			i++
			return []any{e.Seq, e.At, string(e.Actor.Type), e.Actor.ID, e.Actor.Name, string(e.Action),
				string(e.Subject.Type), e.Subject.ID, string(e.Data), e.Origin.IP, e.Origin.RequestID,
				e.PrevHash[:], e.Hash[:]}, nil
		})
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"audit_log"}, []string{
			"seq", "at", "actor_type", "actor_id", "actor_name", "action", "subject_type", "subject_id",
			"data", "origin_ip", "origin_request_id", "prev_hash", "hash"}, src)
		if err != nil {
			return fmt.Errorf("seed: audit events: %w", err)
		}
		_, err = tx.Exec(ctx, "UPDATE audit_chain_head SET seq = $1, at = $2, hash = $3", last.Seq, last.At, last.Hash[:])
		if err != nil {
			return fmt.Errorf("seed: audit events: chain head: %w", err)
		}
		_, err = tx.Exec(ctx, "ANALYZE audit_log")
		return err
	})
}

// auditEntry is the i-th seeded event, chained after prev. Its data is
// canonical JSON already (keys sorted, no space), as Append stores it.
func auditEntry(seq int64, at time.Time, i int, prev audit.Hash) audit.Entry {
	person := strconv.Itoa(1 + i%200)
	action := auditActions[i%len(auditActions)]
	e := audit.Entry{
		Seq:      seq,
		At:       at,
		Actor:    audit.User("seed-"+person, "Person "+person),
		Action:   action,
		Origin:   audit.Origin{IP: "10.1.2.3", RequestID: strconv.FormatInt(seq, 16)},
		PrevHash: prev,
	}
	cluster := clusterName(i % 50)
	switch action {
	case audit.AuthSignIn, audit.AuthSignOut:
		e.Subject = audit.Subject{Type: audit.SubjectUser, ID: "seed-" + person}
		e.Data = []byte(`{"method":"oidc"}`)
	default:
		e.Subject = audit.Subject{Type: audit.SubjectRequest, ID: strconv.Itoa(1 + i/8)}
		e.Data = []byte(`{"cluster":"` + cluster + `","comment":"routine capacity change","environment":"` +
			environments[i%len(environments)] + `","revision":1}`)
	}
	return e
}
