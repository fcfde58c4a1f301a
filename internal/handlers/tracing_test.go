package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/telemetry"
)

// logLines decodes the JSON log lines written so far.
func logLines(t *testing.T, logs *syncBuffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for text := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var line map[string]any
		require.NoError(t, json.Unmarshal([]byte(text), &line), text)
		lines = append(lines, line)
	}
	return lines
}

// observedServer is the web layer with the process's log handler, a
// readiness check that fails, the slow-request threshold given, and every
// level logged (the request line of /readyz is at debug level).
func observedServer(slow time.Duration) (*Server, *syncBuffer) {
	logs := &syncBuffer{}
	logger := slog.New(telemetry.LogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	return New(Deps{
		Logger:      logger,
		Ready:       func(context.Context) error { return errors.New("database down for the test") },
		SlowRequest: slow,
	}), logs
}

// Every line logged while a request is handled carries its request id,
// the one in the X-Request-Id header: the handler's own warning (which
// names no id itself) and the request line.
func TestLogLinesOfARequestCarryItsRequestID(t *testing.T) {
	t.Parallel()
	s, logs := observedServer(0)
	rec := get(t, s, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	id := rec.Header().Get(requestIDHeader)
	require.NotEmpty(t, id)

	lines := logLines(t, logs)
	var messages []string
	for _, line := range lines {
		messages = append(messages, line["msg"].(string))
		require.Equal(t, id, line["request_id"], "%v", line)
		require.NotContains(t, line, "trace_id", "tracing is off")
	}
	require.Equal(t, []string{"not ready", "request"}, messages)
}

// A request slower than the threshold is logged at warn level with its
// route, status, duration and request id; with the log off, or under the
// threshold, there is no such line.
func TestSlowRequestsAreLogged(t *testing.T) {
	t.Parallel()
	// Every request takes longer than a nanosecond.
	s, logs := observedServer(time.Nanosecond)
	rec := get(t, s, "/readyz")
	var slow []map[string]any
	for _, line := range logLines(t, logs) {
		if line["msg"] == "slow request" {
			slow = append(slow, line)
		}
	}
	require.Len(t, slow, 1)
	require.Equal(t, "WARN", slow[0]["level"])
	require.Equal(t, "/readyz", slow[0]["route"])
	require.Equal(t, "GET", slow[0]["method"])
	require.EqualValues(t, http.StatusServiceUnavailable, slow[0]["status"])
	require.Equal(t, rec.Header().Get(requestIDHeader), slow[0]["request_id"])
	require.Greater(t, slow[0]["duration_ms"], 0.0)
	require.Equal(t, "1ns", slow[0]["threshold"])

	for _, threshold := range []time.Duration{0, time.Hour} {
		s, logs := observedServer(threshold)
		get(t, s, "/readyz")
		require.NotContains(t, logs.String(), "slow request", "threshold %s", threshold)
		require.Contains(t, logs.String(), `"msg":"request"`)
	}
}
