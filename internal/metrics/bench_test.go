package metrics_test

import (
	"testing"

	"github.com/clusterdesk/clusterdesk/internal/metrics"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

// BenchmarkScrape gathers every metric, the database's included, with
// 20,000 finished jobs in river_job (River keeps them for a day) beside
// 50 waiting ones: the queue query reads unfinished jobs only.
func BenchmarkScrape(b *testing.B) {
	pool := testdb.New(b)
	_, err := pool.Exec(b.Context(), `
		INSERT INTO river_job (args, kind, max_attempts, queue, state, finalized_at)
		SELECT '{}', 'track', 25, 'default', 'completed', now() FROM generate_series(1, 20000);
		INSERT INTO river_job (args, kind, max_attempts, queue, state)
		SELECT '{}', 'submit', 25, 'default', 'available' FROM generate_series(1, 50);
		ANALYZE river_job`)
	if err != nil {
		b.Fatal(err)
	}
	m := metrics.New(pool, metrics.Options{})
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Registry().Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
