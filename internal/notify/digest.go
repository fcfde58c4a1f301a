package notify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// DigestArgs sends every person's held deliveries (state digest) as one
// email each: the periodic notify_digest job.
type DigestArgs struct{}

// Kind names the job in River's tables.
func (DigestArgs) Kind() string { return "notify_digest" }

// DigestInterval is how often the digest is sent.
const DigestInterval = 24 * time.Hour

// PeriodicJobs are the notification jobs River's leader enqueues on a
// schedule: the daily digest.
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(DigestInterval),
		func() (river.JobArgs, *river.InsertOpts) { return DigestArgs{}, &river.InsertOpts{Queue: Queue} },
		&river.PeriodicJobOpts{ID: "notify_digest"})}
}

type digestWorker struct {
	river.WorkerDefaults[DigestArgs]
	s *Service
}

func (w *digestWorker) Work(ctx context.Context, _ *river.Job[DigestArgs]) error {
	return w.s.SendDigests(ctx)
}

// SendDigests emails each person with held deliveries one message listing
// them, and marks them sent in the same transaction that holds them
// locked, so that two runs never send one twice. A person whose email
// fails keeps theirs for the next run.
func (s *Service) SendDigests(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT user_id FROM notify_deliveries WHERE state = 'digest' AND user_id IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("notify: digest: %w", err)
	}
	users, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("notify: digest: %w", err)
	}
	var failed error
	for _, u := range users {
		if err := s.sendDigest(ctx, u); err != nil {
			s.cfg.Logger.WarnContext(ctx, "notification digest not delivered", "user", u, "error", err)
			failed = err
		}
	}
	return failed
}

func (s *Service) sendDigest(ctx context.Context, user int64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, deliverySelect+`
			WHERE user_id = $1 AND state = 'digest' ORDER BY id FOR UPDATE SKIP LOCKED`, user)
		if err != nil {
			return err
		}
		held, err := pgx.CollectRows(rows, scanDelivery)
		if err != nil || len(held) == 0 {
			return err
		}
		first := held[0]
		m := Message{At: time.Now().UTC(), Preferences: first.Message.Preferences,
			Subject: fmt.Sprintf("Clusterdesk: %d updates on change requests", len(held))}
		var text, html strings.Builder
		html.WriteString("<!DOCTYPE html><html lang=\"en\"><body><ul>")
		for _, d := range held {
			fmt.Fprintf(&text, "- %s\n  %s\n", d.Message.Headline(), d.Message.URL)
			fmt.Fprintf(&html, "<li><a href=\"%s\">%s</a></li>", htmlEscape(d.Message.URL), htmlEscape(d.Message.Headline()))
		}
		fmt.Fprintf(&text, "\n--\nChoose what Clusterdesk emails you: %s\n", m.Preferences)
		fmt.Fprintf(&html, "</ul><p><a href=\"%s\">Choose what Clusterdesk emails you</a></p></body></html>", htmlEscape(m.Preferences))
		m.Text, m.HTML = text.String(), html.String()
		digest := Delivery{IdempotencyKey: fmt.Sprintf("digest_%d_%d", user, first.ID), Target: first.Target, Message: m}
		if err := s.cfg.SMTP.Send(ctx, first.Target, Email(s.cfg.SMTP.From, digest)); err != nil {
			return err
		}
		ids := make([]int64, len(held))
		for i, d := range held {
			ids[i] = d.ID
		}
		_, err = tx.Exec(ctx, `
			UPDATE notify_deliveries SET state = 'sent', attempts = attempts + 1, sent_at = now(), updated_at = now()
			WHERE id = ANY($1)`, ids)
		return err
	})
}
