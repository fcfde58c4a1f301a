package handlers

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/database"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
	"github.com/clusterdesk/clusterdesk/web/static"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// syncBuffer is a log sink that tests read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type bundle struct {
	server *Server
	logs   *syncBuffer
}

// setup builds the web layer whose readiness is checked against a real
// database: migrated unless told otherwise.
func setup(t *testing.T, databaseURL string) bundle {
	t.Helper()
	if databaseURL == "" {
		databaseURL = testdb.NewURL(t)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	assets, err := static.Load()
	require.NoError(t, err)
	ready := func(ctx context.Context) error {
		pool, err := database.Open(ctx, databaseURL)
		if err != nil {
			return err
		}
		defer pool.Close()
		m, err := database.NewMigrator(pool, nil)
		if err != nil {
			return err
		}
		defer m.Close()
		return m.CheckCurrent(ctx)
	}
	return bundle{server: New(Deps{Logger: logger, Assets: assets, Ready: ready}), logs: logs}
}

func get(t *testing.T, h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	rec := get(t, b.server, "/healthz")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "ok\n", rec.Body.String())
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		url        func(t testing.TB) string
		wantStatus int
		wantBody   string
	}{
		{"migrated", testdb.NewURL, http.StatusOK, "ready"},
		{"schema behind", testdb.NewEmpty, http.StatusServiceUnavailable, "schema is behind (run: portal migrate up)"},
		{"database down", func(testing.TB) string { return "postgres://postgres@127.0.0.1:1/none?connect_timeout=1" }, http.StatusServiceUnavailable, "database unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.url(t))
			rec := get(t, b.server, "/readyz")
			require.Equal(t, tt.wantStatus, rec.Code)
			require.Contains(t, rec.Body.String(), tt.wantBody)
			require.NotContains(t, rec.Body.String(), "127.0.0.1", "the reason must not leak connection details")
		})
	}
}

func TestPanicGivesCleanErrorPage(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	b.server.echo.GET("/test/panic", func(echo.Context) error { panic("boom: SELECT secret FROM internals") })

	rec := get(t, b.server, "/test/panic")
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	body := rec.Body.String()
	require.Contains(t, body, `data-testid="error-page"`)
	require.NotContains(t, body, "boom", "the panic value must not reach the page")
	require.NotContains(t, body, "SELECT")
	require.NotContains(t, body, "goroutine", "no stack trace on the page")

	id := rec.Header().Get("X-Request-Id")
	require.NotEmpty(t, id)
	require.Contains(t, body, `<span data-testid="request-id">`+id+`</span>`)
	logs := b.logs.String()
	require.Regexp(t, `"msg":"panic while handling request","request_id":"`+id+`".*"panic":"boom`, logs)
	require.Contains(t, logs, `"stack":"goroutine`)
	require.Regexp(t, `"msg":"request","request_id":"`+id+`","method":"GET","path":"/test/panic","status":500`, logs)
}

func TestNotFoundPage(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	rec := get(t, b.server, "/no/such/page")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Contains(t, rec.Body.String(), `data-testid="error-page"`)
	require.Contains(t, rec.Body.String(), "<title>Not found · Clusterdesk</title>")
}

func TestHTMXErrorGoesToFlash(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	rec := get(t, b.server, "/no/such/fragment", "HX-Request", "true")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, "#flash", rec.Header().Get("HX-Retarget"))
	require.NotContains(t, rec.Body.String(), "<html", "an htmx error is a fragment, not a page")
	require.Contains(t, rec.Body.String(), `role="alert"`)
}

func TestStaticAssetsAreHashedAndCached(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	assets := b.server.deps.Assets

	for _, name := range []string{"lib/htmx.min.js", "lib/sse.min.js", "lib/pico.min.css", "app.css", "app.js"} {
		require.True(t, assets.Has(name), "%s is not embedded: run make assets", name)
		url := assets.Path(name)
		require.Regexp(t, `^/static/.+\.[0-9a-f]{12}\.(js|css)$`, url)

		rec := get(t, b.server, url)
		require.Equal(t, http.StatusOK, rec.Code, url)
		require.Equal(t, "public, max-age=31536000, immutable", rec.Header().Get("Cache-Control"))
		etag := rec.Header().Get("ETag")
		require.NotEmpty(t, etag)

		require.Equal(t, http.StatusNotModified, get(t, b.server, url, "If-None-Match", etag).Code)
	}

	// Unhashed or wrongly hashed names are not served: a stale page cannot
	// pick up a file of another version.
	require.Equal(t, http.StatusNotFound, get(t, b.server, "/static/app.css").Code)
	require.Equal(t, http.StatusNotFound, get(t, b.server, "/static/app.000000000000.css").Code)

	rec := get(t, b.server, assets.Path("lib/htmx.min.js"), "Accept-Encoding", "gzip")
	require.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
	zr, err := gzip.NewReader(rec.Body)
	require.NoError(t, err)
	js, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Contains(t, string(js), "htmx")
}

// TestPagesReferenceEmbeddedAssets renders an error page (no sign-in needed)
// and checks every /static URL in it resolves.
func TestPagesReferenceEmbeddedAssets(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	body := get(t, b.server, "/no/such/page").Body.String()
	urls := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(body, -1)
	require.GreaterOrEqual(t, len(urls), 4)
	for _, m := range urls {
		require.Equal(t, http.StatusOK, get(t, b.server, m[1]).Code, m[1])
		require.False(t, strings.HasSuffix(m[1], "/"), m[1])
	}
}
