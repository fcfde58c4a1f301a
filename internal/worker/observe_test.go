package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
)

func TestJobOutcomes(t *testing.T) {
	t.Parallel()
	job := func(attempt, maxAttempts int) *rivertype.JobRow {
		return &rivertype.JobRow{Kind: "submit", Attempt: attempt, MaxAttempts: maxAttempts}
	}
	for _, c := range []struct {
		job  *rivertype.JobRow
		err  error
		want string
	}{
		{job(1, 25), nil, "completed"},
		{job(1, 25), river.JobSnooze(time.Second), "snoozed"},
		{job(1, 25), river.JobCancel(errors.New("no")), "cancelled"},
		{job(1, 25), errors.New("database gone"), "retryable"},
		{job(25, 25), errors.New("database gone"), "discarded"},
		{job(1, 1), errors.New("API down"), "discarded"},
	} {
		require.Equal(t, c.want, jobOutcome(c.job, c.err), "%d/%d %v", c.job.Attempt, c.job.MaxAttempts, c.err)
	}
}

type jobsSeen struct{ outcomes []string }

func (j *jobsSeen) JobDone(kind, outcome string, _ time.Duration) {
	j.outcomes = append(j.outcomes, kind+" "+outcome)
}
func (j *jobsSeen) InventorySynced(time.Time)     {}
func (j *jobsSeen) AuditVerified(time.Time, bool) {}

// The middleware reports a panic as such, and lets it go on to River.
func TestJobMiddlewareReportsAPanic(t *testing.T) {
	t.Parallel()
	seen := &jobsSeen{}
	mw := observeJobs(seen).(rivertype.WorkerMiddleware)
	job := &rivertype.JobRow{Kind: "track", Attempt: 1, MaxAttempts: 25}
	require.NoError(t, mw.Work(t.Context(), job, func(context.Context) error { return nil }))
	require.PanicsWithValue(t, "boom", func() {
		_ = mw.Work(t.Context(), job, func(context.Context) error { panic("boom") })
	})
	require.Equal(t, []string{"track completed", "track panicked"}, seen.outcomes)
}
