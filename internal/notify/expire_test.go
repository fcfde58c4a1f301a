package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/notify"
)

// A pending request that expires undecided tells its requester so.
func TestExpiryNotifies(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
	r := f.restart(t, f.alice)
	filed := len(f.settled(t, r.ID, 3))

	n, err := f.svc.Expire(context.Background(), time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, n)

	list := f.settled(t, r.ID, filed+1)
	expired := list[filed]
	require.Equal(t, notify.KindExpired, expired.Event)
	require.Equal(t, "alice@example.com", expired.Target)
	require.Equal(t, notify.StateSent, expired.State)
	require.Contains(t, expired.Message.Text, "expired: nobody decided on it in time")
}
