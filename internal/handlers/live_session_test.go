package handlers

import (
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/auth"
)

// sessionEndWait is how soon a stream must end after its session does
// (auth's default recheck is 2 s).
const sessionEndWait = 5 * time.Second

// TestLiveStreamEndsWithItsSession: an open stream stops delivering within
// seconds of its session's end, not at its maximum age; another person's
// stream goes on.
func TestLiveStreamEndsWithItsSession(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		end  func(f *liveFixture, alice *browser)
		// bobStays: Bob's session outlives Alice's, and so does his stream.
		bobStays bool
	}{
		{"sign-out in another request", func(f *liveFixture, alice *browser) {
			r := alice.postOnce(auth.LogoutPath, url.Values{csrfField: {alice.csrfToken()}})
			require.Equal(t, http.StatusSeeOther, r.status, r.body)
		}, true},
		{"expiry", func(f *liveFixture, _ *browser) {
			_, absolute := f.auth.Timeouts()
			f.clock.Advance(absolute + time.Minute)
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newLiveFixture(t)
			alice, aliceID := f.signedIn("alice")
			s := alice.open("/events/dashboard")
			require.Equal(t, http.StatusOK, s.resp.StatusCode)
			s.until("home-counts", "count-pending")
			bob, _ := f.signedIn("bob")
			other := bob.open("/events/dashboard")
			other.until("home-counts", `data-testid="count-pending">0<`)

			tt.end(f, alice)
			ended := time.Now()
			select {
			case <-s.ended:
			case <-time.After(sessionEndWait):
				t.Fatalf("the stream outlived its session by %s", sessionEndWait)
			}
			_, err := io.ReadAll(s.resp.Body)
			require.NoError(t, err, "the stream ended cleanly")
			t.Logf("stream ended %s after its session", time.Since(ended).Round(time.Millisecond))

			if !tt.bobStays {
				return
			}
			// The check that ended Alice's stream checked Bob's session too;
			// his stream still delivers.
			f.file(aliceID, "Alice", approvals.KindStop, "analytics-staging", "after alice left")
			other.until("home-counts", `data-testid="count-pending">1<`)
		})
	}
}
