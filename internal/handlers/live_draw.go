package handlers

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/governance"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/live"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// The renderers below draw what every viewer of a page shares; the hub
// calls each once per burst of notifications, whatever the number of
// viewers. Parts that depend on the viewer (the decision forms, "your
// requests") are reloaded by each page when the frame's key changes.

// drawRequest draws request id's page: its state (and who cancelled it),
// the execution (progress bar, calls), the cluster's events and the
// timeline. The key is the request's state and revision, on which the
// decision area depends.
func (s *Server) drawRequest(id int64) live.Renderer {
	return func(ctx context.Context, _ live.Draw) (live.Frame, error) {
		r, err := approvals.Get(ctx, s.deps.DB, id)
		if err != nil {
			return live.Frame{}, err
		}
		sub, err := s.requestSubmission(ctx, r)
		if err != nil {
			return live.Frame{}, err
		}
		events, err := s.requestEvents(ctx, r)
		if err != nil {
			return live.Frame{}, err
		}
		cancelled, err := s.requestCancelled(ctx, r)
		if err != nil {
			return live.Frame{}, err
		}
		timeline, err := s.requestTimeline(ctx, id)
		if err != nil {
			return live.Frame{}, err
		}
		parts, err := fragments(ctx,
			part{"request-state", templates.RequestStateBadge(requestStateText(r.State), string(r.State))},
			part{"request-closed", templates.RequestClosed(cancelled)},
			part{"request-execution", templates.RequestExecution(sub)},
			part{"request-events", templates.RequestEvents(events)},
			part{"request-timeline", templates.RequestTimeline(timeline)},
		)
		return live.Frame{Events: parts, Whole: true, Key: requestLiveKey(r)}, err
	}
}

// requestLiveKey is what the viewer's own parts of a request's page
// depend on.
func requestLiveKey(r approvals.Request) string {
	return string(r.State) + "." + strconv.Itoa(r.Revision.Number)
}

// drawCluster draws cluster uid's page from its one loader
// (loadClusterPage): every section every viewer shares, configuration
// included (templates.ClusterLiveParts names them). Its key sums up the
// versions, whose section each viewer reloads itself.
func (s *Server) drawCluster(uid string) live.Renderer {
	return func(ctx context.Context, _ live.Draw) (live.Frame, error) {
		v, key, err := s.loadClusterPage(ctx, uid)
		if err != nil {
			return live.Frame{}, err
		}
		// With teams, the request buttons depend on who looks
		// (permittedOperations): a shared redraw leaves them alone.
		governed, err := governance.Defined(ctx, s.deps.DB)
		if err != nil {
			return live.Frame{}, err
		}
		var parts []part
		for _, p := range templates.ClusterLiveParts(v) {
			if governed && p.Name == "cluster-operations" {
				continue
			}
			parts = append(parts, part{p.Name, p.Component})
		}
		events, err := fragments(ctx, parts...)
		return live.Frame{Events: events, Whole: true, Key: key}, err
	}
}

// drawClusters draws the rows of the clusters that changed, for every
// cluster list whatever its filter: a page swaps the rows it shows (a row
// that no longer matches the page's filter or order stays until the list
// reloads). A catch-up cannot know which rows changed, and a new cluster
// has no row yet: each page then reloads its list.
func (s *Server) drawClusters(ctx context.Context, d live.Draw) (live.Frame, error) {
	if d.CatchUp || slices.ContainsFunc(d.Changes, func(n live.Notification) bool {
		return n.Type == "cluster" && n.Change == string(inventory.ChangeCreated)
	}) {
		// A new cluster has no row to swap: each page reloads its list (with
		// its own filter and order).
		return live.Frame{Refresh: true}, nil
	}
	var uids []string
	for _, n := range d.Changes {
		if uid := n.Cluster(); uid != "" && !slices.Contains(uids, uid) {
			uids = append(uids, uid)
		}
	}
	if len(uids) == 0 {
		return live.Frame{}, nil
	}
	pending, err := approvals.PendingCounts(ctx, s.deps.DB, uids)
	if err != nil {
		return live.Frame{}, err
	}
	rows := make([]templates.ClusterRow, 0, len(uids))
	for _, uid := range uids {
		cl, err := inventory.ClusterGet(ctx, s.deps.DB, uid)
		if errors.Is(err, inventory.ErrNotFound) {
			continue
		}
		if err != nil {
			return live.Frame{}, err
		}
		rows = append(rows, templates.ClusterRow{
			UID: cl.UID, Name: cl.Name, URL: clusterURL(cl.UID),
			State:       s.states.badge(cl.State, cl.Deleted(), cl.Unreadable),
			Environment: cl.Environment, Version: cl.Spec.Version, Servers: len(cl.Status.Servers),
			Pending:  pending[cl.UID],
			SyncedAt: cl.SyncedAt.UTC().Format(time.RFC3339), SyncedText: cl.SyncedAt.UTC().Format("2006-01-02 15:04:05 MST"),
		})
	}
	parts, err := fragments(ctx, part{"clusters", templates.ClusterRowUpdates(rows)})
	return live.Frame{Events: parts}, err
}

// drawDashboard draws the start page's counts and recent activity; its
// key changes with the recent activity, so that each viewer reloads their
// own lists (their requests, what awaits them).
func (s *Server) drawDashboard(ctx context.Context, _ live.Draw) (live.Frame, error) {
	counts, err := requestCounts(ctx, s.deps.DB)
	if err != nil {
		return live.Frame{}, err
	}
	recent, err := approvals.ListRecent(ctx, s.deps.DB, approvals.Page{Limit: homeListShown})
	if err != nil {
		return live.Frame{}, err
	}
	parts, err := fragments(ctx,
		part{"home-counts", templates.HomeCountsFragment(counts)},
		part{"home-recent", templates.HomeRecent(requestRows(recent))},
	)
	return live.Frame{Events: parts, Whole: true, Key: dashboardKey(recent)}, err
}

// dashboardKey sums up the recent activity: any request that changes
// moves to its top.
func dashboardKey(recent []approvals.Request) string {
	h := fnv.New64a()
	for _, r := range recent {
		fmt.Fprintf(h, "%d.%s.%d.%d;", r.ID, r.State, r.Revision.Number, r.UpdatedAt.UnixMicro())
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// requestCounts is the start page's counts.
func requestCounts(ctx context.Context, q approvals.Querier) (templates.HomeCounts, error) {
	c, err := approvals.CountByState(ctx, q)
	return templates.HomeCounts{Pending: c.Waiting, Applying: c.Running, Done: c.SucceededToday, Failed: c.FailedToday}, err
}
