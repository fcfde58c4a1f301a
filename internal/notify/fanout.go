package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

type eventWorker struct {
	river.WorkerDefaults[EventArgs]
	s *Service
}

func (w *eventWorker) Work(ctx context.Context, job *river.Job[EventArgs]) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	return w.s.fanOut(ctx, client, job.ID, job.Args)
}

// person is someone an event may be emailed to.
type person struct {
	id      int64
	address string
	email   bool // their preference for the event's kind
	digest  bool
}

// target is one delivery to write.
type target struct {
	channel  Channel
	key      string // who, in the idempotency key
	userID   int64
	endpoint Endpoint
	address  string
	state    State
}

// fanOut writes the deliveries of event id (ev) and a notify_deliver job
// for each in one transaction. A delivery that exists already (the job ran
// before and its end was lost) is left as it is.
func (s *Service) fanOut(ctx context.Context, ins Inserter, id int64, ev EventArgs) error {
	r, err := approvals.Get(ctx, s.pool, ev.RequestID)
	if err != nil {
		return fmt.Errorf("notify: event %d: %w", id, err)
	}
	var policy approvals.Policy
	evaluation, err := approvals.Evaluate(ctx, s.pool, r.ID)
	switch {
	case errors.Is(err, approvals.ErrNoPolicy):
	case err != nil:
		return fmt.Errorf("notify: event %d: %w", id, err)
	default:
		policy = evaluation.Policy
	}
	m, err := compose(ctx, s.cfg.BaseURL, id, ev, r)
	if err != nil {
		return fmt.Errorf("notify: event %d: %w", id, err)
	}
	people, err := s.people(ctx, ev, r, policy, evaluation)
	if err != nil {
		return fmt.Errorf("notify: event %d: %w", id, err)
	}
	var targets []target
	for _, p := range people {
		if !p.email || p.address == "" || s.cfg.SMTP.Host == "" {
			continue
		}
		t := target{channel: ChannelEmail, key: "user-" + itoa(p.id), userID: p.id, address: p.address, state: StatePending}
		if p.digest {
			t.state = StateDigest
		}
		targets = append(targets, t)
	}
	endpoints, err := s.endpoints(ctx)
	if err != nil {
		return fmt.Errorf("notify: event %d: %w", id, err)
	}
	for _, e := range endpoints {
		// Endpoints hear of a hard update as its "submitted" event.
		if ev.Event != KindHardUpdate && e.hears(r.Environment(), policy.ID) {
			targets = append(targets, target{channel: e.Kind, key: e.key(), endpoint: e, address: e.Name, state: StatePending})
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, t := range targets {
			var user, endpoint *int64
			if t.userID != 0 {
				user = &t.userID
			}
			if t.endpoint.ID != 0 {
				endpoint = &t.endpoint.ID
			}
			var delivery int64
			err := tx.QueryRow(ctx, `
				INSERT INTO notify_deliveries (idempotency_key, event_id, event, request_id, channel, user_id, endpoint_id,
				                               target, message, state)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
				IdempotencyKey(id, t.channel, t.key), id, string(ev.Event), r.ID, string(t.channel), user, endpoint,
				t.address, raw, string(t.state)).Scan(&delivery)
			if errors.Is(err, pgx.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if t.state != StatePending {
				continue
			}
			if _, err := ins.InsertTx(ctx, tx, DeliverArgs{DeliveryID: delivery}, s.deliverOpts()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("notify: event %d: deliveries: %w", id, err)
	}
	return nil
}

// IdempotencyKey names one delivery of event id on channel to who; it is
// the webhook-id of a webhook and the Message-ID of an email.
func IdempotencyKey(id int64, channel Channel, who string) string {
	return fmt.Sprintf("evt_%d_%s_%s", id, channel, who)
}

// people returns who is emailed of ev, with their preferences for its
// kind: for "waiting", everyone who may approve r under policy (the
// approver role and one of its groups; neither the requester nor an author
// of a revision); for an emergency, the members of Config.EmergencyGroups;
// for a hard update, the members of Config.HardUpdateGroups;
// for outcomes, the requester, and for the execution's steps also the
// approvers of the current revision. The person who acted
// is never told of their own act.
func (s *Service) people(ctx context.Context, ev EventArgs, r approvals.Request, policy approvals.Policy, e approvals.Evaluation) ([]person, error) {
	actor, _ := strconv.ParseInt(ev.ActorID, 10, 64)
	const selectPeople = `
		SELECT u.id, u.email, coalesce(p.email, $2), coalesce(p.digest, false)
		FROM users u LEFT JOIN notify_preferences p ON p.user_id = u.id AND p.event = $1`
	var (
		rows pgx.Rows
		err  error
	)
	if ev.Event == KindEmergency {
		groups := s.cfg.EmergencyGroups
		if len(groups) == 0 {
			groups = s.cfg.ApproverRoleGroups
		}
		rows, err = s.pool.Query(ctx, selectPeople+` WHERE u.groups && $3::text[] AND u.id <> $4 ORDER BY u.id`,
			string(ev.Event), ev.Event.DefaultEmail(), nonNil(groups), actor)
	} else if ev.Event == KindHardUpdate {
		if len(s.cfg.HardUpdateGroups) == 0 {
			return nil, nil
		}
		rows, err = s.pool.Query(ctx, selectPeople+` WHERE u.groups && $3::text[] AND u.id <> $4 ORDER BY u.id`,
			string(ev.Event), ev.Event.DefaultEmail(), s.cfg.HardUpdateGroups, actor)
	} else if ev.Event == KindWaiting {
		if policy.ID == 0 {
			return nil, nil
		}
		rows, err = s.pool.Query(ctx, selectPeople+`
			WHERE u.groups && $3::text[] AND u.groups && $4::text[] AND u.id <> $5 AND u.id <> $6
			  AND NOT EXISTS (SELECT 1 FROM request_revisions v WHERE v.request_id = $7 AND v.author_id = u.id)
			ORDER BY u.id`,
			string(ev.Event), ev.Event.DefaultEmail(), policy.ApproverGroups, nonNil(s.cfg.ApproverRoleGroups),
			r.Requester.ID, actor, r.ID)
	} else {
		ids := []int64{r.Requester.ID}
		if ev.Event.toApprovers() {
			for _, a := range e.Approvals {
				ids = append(ids, a.Approver.ID)
			}
		}
		rows, err = s.pool.Query(ctx, selectPeople+` WHERE u.id = ANY($3) AND u.id <> $4 ORDER BY u.id`,
			string(ev.Event), ev.Event.DefaultEmail(), ids, actor)
	}
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (person, error) {
		var p person
		err := row.Scan(&p.id, &p.address, &p.email, &p.digest)
		return p, err
	})
}

// endpoints returns the settings' endpoints, then the portal's.
func (s *Service) endpoints(ctx context.Context) ([]Endpoint, error) {
	stored, err := EndpointList(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	return append(append([]Endpoint(nil), s.cfg.Endpoints...), stored...), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
