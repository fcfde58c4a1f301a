package worker

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
)

// The trace context joins a job's metadata without changing what River or
// anyone else put there.
func TestWithMetadataKeepsTheOtherKeys(t *testing.T) {
	t.Parallel()
	carrier := propagation.MapCarrier{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	out, err := withMetadata([]byte(`{"river:unique": 12345678901234567890, "note": {"a": [1, 2]}}`), traceContextKey, carrier)
	require.NoError(t, err)
	require.JSONEq(t, `{"river:unique": 12345678901234567890, "note": {"a": [1, 2]},
		"trace_context": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}`, string(out))

	out, err = withMetadata(nil, traceContextKey, carrier)
	require.NoError(t, err)
	var meta map[string]map[string]string
	require.NoError(t, json.Unmarshal(out, &meta))
	require.Equal(t, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", meta["trace_context"]["traceparent"])

	_, err = withMetadata([]byte(`[1]`), traceContextKey, carrier)
	require.ErrorContains(t, err, "worker: job metadata")
}
