package notify

import "context"

// FanOut runs the fan-out of event id again, as a retried job would.
func (s *Service) FanOut(ctx context.Context, ins Inserter, id int64, ev EventArgs) error {
	return s.fanOut(ctx, ins, id, ev)
}

// Deliver runs one attempt of delivery id, as a retried job would.
func (s *Service) Deliver(ctx context.Context, id int64) error { return s.deliver(ctx, id, false) }
