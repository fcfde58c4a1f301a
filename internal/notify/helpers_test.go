package notify_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/simtest"
	"github.com/clusterdesk/clusterdesk/internal/execution"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/notify"
	"github.com/clusterdesk/clusterdesk/internal/notify/notifytest"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
	"github.com/clusterdesk/clusterdesk/internal/worker"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// fixture is a database with people (with email addresses), the
// simulator's demo clusters in the inventory, a real SMTP server, the
// approvals service, the audit chainer and the notification relay (as the
// worker runs them, at a short interval), and a River client running the
// notification jobs with short retry waits.
//
// People: alice (developers), bob (developers, approvers), carol
// (approvers), dave (admins, approvers), mallory (none).
type fixture struct {
	pool   *pgxpool.Pool
	client *cloudapi.Client
	river  notify.Inserter
	svc    *approvals.Service
	notify *notify.Service
	smtp   *notifytest.Mailbox

	alice, bob, carol, dave, mallory approvals.Actor
	staging                          string
}

type options struct {
	endpoints []notify.Endpoint
	// smtpAddr, when set, is the SMTP server's address (it may be down).
	smtpAddr    string
	maxAttempts int
	// hardUpdateGroups are told of every hard update sent.
	hardUpdateGroups []string
	// execution runs the real worker (internal/worker) with execution on
	// the simulator, so approved changes are sent and tracked.
	execution bool
}

const baseURL = "https://clusterdesk.example.com"

func setup(t *testing.T, o options) *fixture {
	t.Helper()
	ctx := context.Background()
	_, client := simtest.Start(t, 2*time.Millisecond)
	f := &fixture{pool: testdb.New(t), client: client}
	syncer := inventory.NewSyncer(f.pool, client, inventory.Config{OnChange: approvals.ClusterChanged})
	_, err := syncer.Sync(ctx)
	require.NoError(t, err)
	list, err := inventory.ClusterByName(ctx, f.pool, "analytics-staging")
	require.NoError(t, err)
	f.staging = list[0].UID

	f.alice = f.user(t, "alice", false, "developers")
	f.bob = f.user(t, "bob", false, "developers", "approvers")
	f.carol = f.user(t, "carol", false, "approvers")
	f.dave = f.user(t, "dave", true, "admins", "approvers")
	f.mallory = f.user(t, "mallory", false)

	addr := o.smtpAddr
	if addr == "" {
		f.smtp = notifytest.StartMailbox(t, "")
		addr = f.smtp.Addr
	}
	host, port := splitHostPort(t, addr)
	f.notify, err = notify.New(f.pool, notify.Config{
		BaseURL: baseURL, ApproverRoleGroups: []string{"approvers"},
		SMTP:      notify.SMTP{Host: host, Port: port, TLS: notify.TLSNone, From: "Clusterdesk <clusterdesk@example.com>"},
		Endpoints: o.endpoints, HardUpdateGroups: o.hardUpdateGroups,
		MaxAttempts: o.maxAttempts, RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
	})
	require.NoError(t, err)
	var onApproved func(context.Context, pgx.Tx, approvals.Request) error
	if o.execution {
		w, err := worker.New(f.pool, slog.New(slog.DiscardHandler), worker.Options{
			AuditVerifyInterval: time.Hour, AuditChainInterval: relayInterval, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
			Execution: &execution.Options{API: client, Inventory: syncer, TrackInterval: 20 * time.Millisecond,
				RetryBase: 20 * time.Millisecond, BusyWait: 30 * time.Millisecond, SettleTime: 300 * time.Millisecond},
			Notify: f.notify,
		})
		require.NoError(t, err)
		require.NoError(t, w.Start(ctx))
		t.Cleanup(func() {
			stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = w.Stop(stop)
		})
		f.river, onApproved = w.Inserter(), w.OnApproved
	} else {
		workers := river.NewWorkers()
		f.notify.AddWorkers(workers)
		client, err := river.NewClient(riverpgxv5.New(f.pool), &river.Config{
			Workers: workers, Queues: map[string]river.QueueConfig{notify.Queue: notify.QueueConfig()},
			FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
		})
		require.NoError(t, err)
		require.NoError(t, client.Start(ctx))
		t.Cleanup(func() {
			stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = client.Stop(stop)
		})
		f.river = client
		background(t, func(ctx context.Context) {
			audit.ChainEvery(ctx, f.pool, relayInterval, func(err error) { t.Errorf("chain: %v", err) })
		})
		background(t, func(ctx context.Context) {
			notify.RelayEvery(ctx, f.pool, client, relayInterval, func(err error) { t.Errorf("relay: %v", err) })
		})
	}
	f.svc = approvals.New(f.pool, approvals.Config{OnApproved: onApproved})
	return f
}

// relayInterval is how often the fixture chains audit events and relays
// them to notification jobs.
const relayInterval = 10 * time.Millisecond

// background runs loop until the test ends, and waits for it to return.
func background(t *testing.T, loop func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		loop(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	port, err := net.LookupPort("tcp", p)
	require.NoError(t, err)
	return host, port
}

// user adds a person with the address name@example.com.
func (f *fixture) user(t *testing.T, name string, admin bool, groups ...string) approvals.Actor {
	t.Helper()
	if groups == nil {
		groups = []string{}
	}
	var id int64
	err := f.pool.QueryRow(context.Background(), `
		INSERT INTO users (issuer, subject, username, name, email, groups, last_login_at)
		VALUES ('https://idp.test', $1, $1, $2, $3, $4, now()) RETURNING id`,
		"sub-"+name, name+" Example", name+"@example.com", groups).Scan(&id)
	require.NoError(t, err)
	return approvals.Actor{UserID: id, Name: name + " Example", Groups: groups, Approver: slices.Contains(groups, "approvers"),
		Admin: admin, Origin: audit.Origin{IP: "192.0.2.1"}}
}

// restart files a restart of the staging cluster's first server by a.
func (f *fixture) restart(t *testing.T, a approvals.Actor) approvals.Request {
	t.Helper()
	c, err := inventory.ClusterGet(context.Background(), f.pool, f.staging)
	require.NoError(t, err)
	r, err := f.svc.Create(context.Background(), a, approvals.NewRequest{Kind: approvals.KindRestartServer,
		ClusterUID: f.staging, Reason: "stuck query", InstanceID: c.Status.Servers[0].InstanceID})
	require.NoError(t, err)
	return r
}

func (f *fixture) approve(t *testing.T, a approvals.Actor, r approvals.Request) error {
	t.Helper()
	c, err := f.client.GetCluster(context.Background(), r.ClusterUID)
	require.NoError(t, err)
	_, err = f.svc.Approve(context.Background(), a, r.ID, approvals.Approve{Revision: r.Revision.Number,
		LiveResourceVersion: c.Status.ResourceVersion})
	return err
}

// deliveries returns the delivery log of request id, oldest first.
func (f *fixture) deliveries(t *testing.T, id int64) []notify.Delivery {
	t.Helper()
	list, err := notify.DeliveryList(context.Background(), f.pool, notify.DeliveryFilter{RequestID: id}, 1000)
	require.NoError(t, err)
	slices.Reverse(list)
	return list
}

// settled waits until request id has deliveries and none is pending,
// and returns them.
func (f *fixture) settled(t *testing.T, id int64, want int) []notify.Delivery {
	t.Helper()
	var list []notify.Delivery
	require.Eventually(t, func() bool {
		list = f.deliveries(t, id)
		if len(list) < want {
			return false
		}
		for _, d := range list {
			if d.State == notify.StatePending {
				return false
			}
		}
		return true
	}, 20*time.Second, 10*time.Millisecond, "deliveries of request %d: %+v", id, &list)
	return list
}

// selfSignedCert is a certificate for 127.0.0.1 (httptest's).
func selfSignedCert(t *testing.T) tls.Certificate {
	t.Helper()
	s := httptest.NewUnstartedServer(nil)
	s.StartTLS()
	defer s.Close()
	return s.TLS.Certificates[0]
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// readAll reads a part, which multipart.Reader has already decoded from
// quoted-printable.
func readAll(b *strings.Builder, r io.Reader) (int64, error) { return io.Copy(b, r) }
