package browsertest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/browsertest"
)

// TestWatchSeesCSPViolations proves the watcher is not blind: a page whose
// inline script and inline style break its own CSP must be reported, and a
// clean page must not.
func TestWatchSeesCSPViolations(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'")
		_, _ = w.Write([]byte(`<!doctype html><title>bad</title><style>p{color:red}</style><p id="p">x</p><script>document.title="ran"</script>`))
	})
	mux.HandleFunc("/good", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'")
		_, _ = w.Write([]byte(`<!doctype html><title>good</title><p id="p">x</p>`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	ctx := browsertest.New(t)
	page := browsertest.Watch(t, ctx)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/good"), chromedp.WaitVisible(chromedp.CSS("#p"))))
	browsertest.Settle()
	require.Empty(t, page.CSPViolations())

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/bad"), chromedp.WaitVisible(chromedp.CSS("#p"))))
	title, err := chromedp.Run(ctx, chromedp.Title())
	require.NoError(t, err)
	require.Equal(t, "bad", title, "the inline script must not have run")
	require.Eventually(t, func() bool { return len(page.CSPViolations()) >= 2 }, 5*time.Second, 50*time.Millisecond,
		"want the inline script and style reported, got %q (all messages: %q)", page.CSPViolations(), page.Messages())
}
