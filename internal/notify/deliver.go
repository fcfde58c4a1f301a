package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// DeliverArgs sends one delivery of the log (the notify_deliver job).
type DeliverArgs struct {
	DeliveryID int64 `json:"delivery_id"`
}

// Kind names the job in River's tables.
func (DeliverArgs) Kind() string { return "notify_deliver" }

func (s *Service) deliverOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: Queue, MaxAttempts: s.cfg.MaxAttempts}
}

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	s *Service
}

// NextRetry waits Config.RetryBase after the first failure, doubling up to
// Config.RetryMax.
func (w *deliverWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return time.Now().Add(w.s.backoff(job.Attempt))
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.s.deliver(ctx, job.Args.DeliveryID, job.Attempt >= job.MaxAttempts)
}

// deliver makes one attempt of delivery id, unless it is no longer
// pending (sent by an earlier run: nothing is sent twice). The attempt is
// counted before anything is sent, so the log never shows fewer attempts
// than were made. A failed attempt is retried by River (the error), or,
// when it was the last one, marks the delivery failed and ends the job.
func (s *Service) deliver(ctx context.Context, id int64, last bool) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE notify_deliveries SET attempts = attempts + 1, updated_at = now()
		WHERE id = $1 AND state = 'pending'`, id)
	if err != nil {
		return fmt.Errorf("notify: deliver %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	d, err := DeliveryGet(ctx, s.pool, id)
	if err != nil {
		return err
	}
	sendErr := s.send(ctx, d)
	if sendErr == nil {
		_, err := s.pool.Exec(ctx, `
			UPDATE notify_deliveries SET state = 'sent', sent_at = now(), updated_at = now(), last_error = ''
			WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("notify: deliver %d: sent, but not recorded: %w", id, err)
		}
		return nil
	}
	state := StatePending
	if last {
		state = StateFailed
	}
	if _, err := s.pool.Exec(ctx, `
		UPDATE notify_deliveries SET state = $2, last_error = $3, updated_at = now() WHERE id = $1`,
		id, string(state), truncate(sendErr.Error(), 500)); err != nil {
		return fmt.Errorf("notify: deliver %d: %w", id, err)
	}
	s.cfg.Logger.WarnContext(ctx, "notification not delivered", "delivery", id, "channel", d.Channel,
		"target", d.Target, "attempt", d.Attempts, "final", last, "error", sendErr)
	if last {
		return river.JobCancel(sendErr)
	}
	return fmt.Errorf("notify: deliver %d: %w", id, sendErr)
}

// send sends d once on its channel. Errors never carry an endpoint's URL
// or secret (they reach the delivery log and the logs).
func (s *Service) send(ctx context.Context, d Delivery) error {
	switch d.Channel {
	case ChannelEmail:
		return s.cfg.SMTP.Send(ctx, d.Target, Email(s.cfg.SMTP.From, d))
	case ChannelChat, ChannelWebhook:
		e, err := s.endpointOf(ctx, d)
		if err != nil {
			return err
		}
		if d.Channel == ChannelChat {
			return s.postChat(ctx, e, d.Message)
		}
		return s.postWebhook(ctx, e, d)
	}
	return fmt.Errorf("unknown channel %q", d.Channel)
}

// endpointOf finds d's endpoint: in the portal by id, or in the settings
// by name.
func (s *Service) endpointOf(ctx context.Context, d Delivery) (Endpoint, error) {
	if d.EndpointID == 0 {
		for _, e := range s.cfg.Endpoints {
			if e.Name == d.Target && e.Kind == d.Channel {
				return e, nil
			}
		}
		return Endpoint{}, errors.New("the endpoint is no longer in the settings")
	}
	list, err := EndpointList(ctx, s.pool)
	if err != nil {
		return Endpoint{}, err
	}
	for _, e := range list {
		if e.ID == d.EndpointID {
			return e, nil
		}
	}
	return Endpoint{}, errors.New("the endpoint was removed")
}

// Resend queues delivery id again for an admin (actor): a failed or sent
// delivery goes back to pending, keeping its idempotency key and its count
// of attempts, and the resend is audited. Errors: ErrNotFound, ErrInvalid
// (a delivery that is pending or held for a digest).
func (s *Service) Resend(ctx context.Context, ins Inserter, actor audit.Actor, origin audit.Origin, id int64) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var state string
		err := tx.QueryRow(ctx, `SELECT state FROM notify_deliveries WHERE id = $1 FOR UPDATE`, id).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if State(state) != StateFailed && State(state) != StateSent {
			return fmt.Errorf("%w: a %s delivery is not resent", ErrInvalid, state)
		}
		if _, err := tx.Exec(ctx, `UPDATE notify_deliveries SET state = 'pending', updated_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		if _, err := ins.InsertTx(ctx, tx, DeliverArgs{DeliveryID: id}, s.deliverOpts()); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, audit.Event{Actor: actor, Action: audit.NotifyDeliveryResent, Origin: origin,
			Subject: audit.Subject{Type: audit.SubjectDelivery, ID: itoa(id)},
			Data:    map[string]any{"previous_state": state}})
		return err
	})
	if err != nil {
		return fmt.Errorf("notify: resend delivery %d: %w", id, err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
