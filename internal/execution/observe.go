package execution

// OutcomeReconciled is what Options.Observe is told when a change whose
// answer was lost is found applied (no attempt is stored with it).
const OutcomeReconciled = "reconciled"

// observe tells Options.Observe, when set, how an attempt to send a change
// ended.
func (e *Executor) observe(outcome string) {
	if e.opts.Observe != nil {
		e.opts.Observe(outcome)
	}
}
