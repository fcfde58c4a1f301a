package approvals_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

func listedIDs(list []approvals.Listed) []int64 {
	out := []int64{}
	for _, r := range list {
		out = append(out, r.ID)
	}
	return out
}

// setFiled moves the filing time of requests, as if they had been filed then.
func (f *fixture) setFiled(t testing.TB, at time.Time, ids ...int64) {
	t.Helper()
	_, err := f.pool.Exec(context.Background(), "UPDATE change_requests SET created_at = $1 WHERE id = ANY ($2)", at, ids)
	require.NoError(t, err)
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	stagingStop := f.file(t, f.alice, approvals.KindStop, f.staging)           // default policy: 1 approval
	prodUpdate := f.update(t, f.alice, f.prod, func(s *cloudapi.ClusterSpec) { // production policy: 2
		s.Query.Replicas = ptr[int32](3)
	})
	bobsRestart := f.file(t, f.bob, approvals.KindRestartServer, f.staging)
	cancelled := f.file(t, f.alice, approvals.KindDelete, f.dev)
	_, err := f.svc.Cancel(ctx, f.alice, cancelled.ID, "")
	require.NoError(t, err)
	_, err = f.approve(t, f.carol, prodUpdate)
	require.NoError(t, err)
	january := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	f.setFiled(t, january, stagingStop.ID)

	all := []int64{cancelled.ID, bobsRestart.ID, prodUpdate.ID, stagingStop.ID}
	for _, tc := range []struct {
		name   string
		filter approvals.Filter
		want   []int64
	}{
		{"everything, newest filed first", approvals.Filter{}, all},
		{"mine", approvals.Filter{RequesterID: f.alice.UserID}, []int64{cancelled.ID, prodUpdate.ID, stagingStop.ID}},
		{"waiting on carol", approvals.Filter{AwaitingFor: &f.carol}, []int64{bobsRestart.ID, stagingStop.ID}},
		{"waiting on bob: not his own", approvals.Filter{AwaitingFor: &f.bob}, []int64{prodUpdate.ID, stagingStop.ID}},
		{"waiting on alice, no approver", approvals.Filter{AwaitingFor: &f.alice}, []int64{}},
		{"waiting on mallory", approvals.Filter{AwaitingFor: &f.mallory}, []int64{}},
		{"cluster, any case", approvals.Filter{ClusterName: "Analytics-STAGING"}, []int64{bobsRestart.ID, stagingStop.ID}},
		{"cluster, whole name only", approvals.Filter{ClusterName: "analytics"}, []int64{}},
		{"one state", approvals.Filter{States: []approvals.State{approvals.StateCancelled}}, []int64{cancelled.ID}},
		{"two states", approvals.Filter{States: []approvals.State{approvals.StatePending, approvals.StateCancelled}}, all},
		{"kind", approvals.Filter{Kind: approvals.KindRestartServer}, []int64{bobsRestart.ID}},
		{"person by username", approvals.Filter{Person: "bob"}, []int64{bobsRestart.ID}},
		{"person by name, any case", approvals.Filter{Person: "BOB example"}, []int64{bobsRestart.ID}},
		{"person, part of a name", approvals.Filter{Person: "ali"}, []int64{cancelled.ID, prodUpdate.ID, stagingStop.ID}},
		{"person, a wildcard is text", approvals.Filter{Person: "%"}, []int64{}},
		{"filed from", approvals.Filter{FiledFrom: january.Add(time.Hour)}, []int64{cancelled.ID, bobsRestart.ID, prodUpdate.ID}},
		{"filed before", approvals.Filter{FiledBefore: january.Add(time.Hour)}, []int64{stagingStop.ID}},
		{"filed in a range, from inclusive", approvals.Filter{FiledFrom: january, FiledBefore: january.Add(time.Second)}, []int64{stagingStop.ID}},
		{"filed in a range, before exclusive", approvals.Filter{FiledFrom: january.Add(-time.Hour), FiledBefore: january}, []int64{}},
		{"mine and pending", approvals.Filter{RequesterID: f.alice.UserID, States: []approvals.State{approvals.StatePending}}, []int64{prodUpdate.ID, stagingStop.ID}},
		{"mine on staging", approvals.Filter{RequesterID: f.alice.UserID, ClusterName: "analytics-staging"}, []int64{stagingStop.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := approvals.List(ctx, f.pool, tc.filter, approvals.Cursor{}, 0)
			require.NoError(t, err)
			require.Equal(t, tc.want, listedIDs(l.Requests))
			require.Nil(t, l.Newer)
			require.Nil(t, l.Older)
			n, err := approvals.Count(ctx, f.pool, tc.filter, 100)
			require.NoError(t, err)
			require.Equal(t, len(tc.want), n)
			require.Equal(t, tc.filter.IsZero(), tc.name == "everything, newest filed first")
		})
	}

	t.Run("waiting on me is the approvals queue", func(t *testing.T) {
		for _, a := range []approvals.Actor{f.alice, f.bob, f.carol, f.dave, f.erin, f.mallory} {
			queue, err := approvals.ListAwaiting(ctx, f.pool, a, approvals.Page{})
			require.NoError(t, err)
			l, err := approvals.List(ctx, f.pool, approvals.Filter{AwaitingFor: &a}, approvals.Cursor{}, 0)
			require.NoError(t, err)
			require.ElementsMatch(t, ids(queue), listedIDs(l.Requests), a.Name)
		}
	})

	t.Run("approval progress as Evaluate counts it", func(t *testing.T) {
		l, err := approvals.List(ctx, f.pool, approvals.Filter{}, approvals.Cursor{}, 0)
		require.NoError(t, err)
		for _, r := range l.Requests {
			e, err := approvals.Evaluate(ctx, f.pool, r.ID)
			require.NoError(t, err)
			require.True(t, r.HasPolicy)
			require.Equal(t, e.Needed(), r.Needed, "request %d", r.ID)
			require.Equal(t, e.Given(), r.Given, "request %d", r.ID)
		}
		require.Equal(t, prodUpdate.ID, l.Requests[2].ID)
		require.Equal(t, [2]int{2, 1}, [2]int{l.Requests[2].Needed, l.Requests[2].Given}, "1 of 2 approvals")
	})

	t.Run("no policy", func(t *testing.T) {
		tx, err := f.pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, "UPDATE policies SET enabled = false")
		require.NoError(t, err)
		l, err := approvals.List(ctx, tx, approvals.Filter{Kind: approvals.KindStop}, approvals.Cursor{}, 0)
		require.NoError(t, err)
		require.Len(t, l.Requests, 1)
		require.False(t, l.Requests[0].HasPolicy)
	})

	t.Run("count stops at most", func(t *testing.T) {
		n, err := approvals.Count(ctx, f.pool, approvals.Filter{}, 2)
		require.NoError(t, err)
		require.Equal(t, 3, n, "more than two")
	})

	t.Run("names for suggestions", func(t *testing.T) {
		clusters, err := approvals.ClusterNames(ctx, f.pool)
		require.NoError(t, err)
		require.Equal(t, []string{"analytics-prod", "analytics-staging", "clickstream-dev"}, clusters)
		people, err := approvals.RequesterNames(ctx, f.pool)
		require.NoError(t, err)
		require.Equal(t, []string{"alice Example", "bob Example"}, people, "only people who filed")
	})
}

// TestListPages pages through requests whose filing times tie across page
// boundaries, older and back newer: every request once, in one order.
func TestListPages(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	var r [7]int64
	for i := range r {
		r[i] = f.file(t, f.alice, approvals.KindRestartServer, f.staging).ID
	}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 123456000, time.UTC)
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	// The smallest id is among the newest: the order is by filing time first.
	f.setFiled(t, t2, r[0], r[6])
	f.setFiled(t, t1, r[2], r[3], r[4])
	f.setFiled(t, t0, r[1], r[5])
	order := []int64{r[6], r[0], r[4], r[3], r[2], r[5], r[1]}
	want := [][]int64{order[0:2], order[2:4], order[4:6], order[6:7]} // ties split at 2|3 and 3|4

	page := func(at approvals.Cursor) approvals.Listing {
		t.Helper()
		l, err := approvals.List(ctx, f.pool, approvals.Filter{RequesterID: f.alice.UserID}, at, 2)
		require.NoError(t, err)
		return l
	}
	var pages []approvals.Listing
	l := page(approvals.Cursor{})
	require.Nil(t, l.Newer, "the newest page")
	for {
		pages = append(pages, l)
		require.Equal(t, want[len(pages)-1], listedIDs(l.Requests), "older page %d", len(pages))
		if l.Older == nil {
			break
		}
		key := l.Older.Key()
		at, err := approvals.ParseCursor(key, false)
		require.NoError(t, err)
		require.True(t, l.Older.FiledAt.Equal(at.FiledAt), "the key is exact")
		require.Equal(t, l.Older.ID, at.ID)
		l = page(at)
		require.NotNil(t, l.Newer, "page %d has newer requests before it", len(pages)+1)
	}
	require.Len(t, pages, len(want))

	// Back up from the oldest page.
	for i := len(pages) - 1; i > 0; i-- {
		require.NotNil(t, pages[i].Newer)
		back := page(*pages[i].Newer)
		require.Equal(t, want[i-1], listedIDs(back.Requests), "newer page %d", i)
		require.NotNil(t, back.Older)
		require.Equal(t, i-1 > 0, back.Newer != nil, "page %d has newer requests", i)
		if back.Newer != nil {
			require.Equal(t, pages[i-1].Newer.ID, back.Newer.ID)
		}
	}

	t.Run("a request filed meanwhile shows on the way back only", func(t *testing.T) {
		second := page(*pages[0].Older)
		late := f.file(t, f.alice, approvals.KindRestartServer, f.staging)
		back := page(*second.Newer)
		require.Equal(t, want[0], listedIDs(back.Requests), "the page before, unchanged")
		require.NotNil(t, back.Newer, "the new request is newer still")
		top := page(*back.Newer)
		require.Equal(t, []int64{late.ID}, listedIDs(top.Requests))
		require.Nil(t, top.Newer)
	})

	t.Run("bad cursors", func(t *testing.T) {
		for _, key := range []string{"", "x", "12", "12-", "-3", "12-0", "12-x", "-5-3"} {
			_, err := approvals.ParseCursor(key, false)
			require.ErrorIs(t, err, approvals.ErrInvalid, key)
		}
	})
}
