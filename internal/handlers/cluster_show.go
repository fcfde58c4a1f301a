package handlers

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// clusterRequestsShown, clusterEventsShown and clusterVersionsShown bound
// the page's lists; the older versions have a page of their own
// (clusterVersionsOlder).
const (
	clusterRequestsShown = 20
	clusterEventsShown   = 20
	clusterVersionsShown = 20
)

// clusterShow is a cluster's page, read from the inventory only (no call to
// Cloud Manager). An unknown uid is inventory.ErrNotFound, a 404; a cluster
// the API no longer lists is shown as last seen.
func (s *Server) clusterShow(c echo.Context) error {
	ctx := c.Request().Context()
	view, key, err := s.loadClusterPage(ctx, c.Param("uid"))
	if err != nil {
		return err
	}
	if view.Operations, view.OperationsPerViewer, err = s.permittedOperations(c, view.UID, view.Operations); err != nil {
		return err
	}
	if s.deps.Approvals != nil && s.deps.Approvals.MayFileEmergency(actorOf(c)) && !view.Deleted {
		view.EmergencyURL = clusterURL(view.UID) + "/emergency"
	}
	if view.Emergencies, err = s.emergencyRows(c, view.UID); err != nil {
		return err
	}
	if u, _ := auth.UserFrom(ctx); !u.Has(auth.RoleRequester) {
		// Only requesters file requests; the others see no way to.
		for i := range view.Versions {
			view.Versions[i].RollbackURL = ""
		}
	}
	view.LiveURL = s.liveURL(clusterURL(view.UID)+"/events", key)
	if view.LiveURL != "" {
		view.SelfURL = clusterURL(view.UID)
	}
	return s.ok(c, templates.ClusterShowPage(s.page(c, "Cluster "+view.Name), view))
}

// loadClusterPage is the one loader of cluster uid's page: the first draw
// (clusterShow) and every live redraw (drawCluster) read the cluster, its
// versions and its requests here, in one snapshot of the inventory, so no
// section of the page can show an older cluster than another. The key sums
// up the parts each viewer reloads itself: the versions section
// (clusterLiveKey) and the operations offered. Errors: inventory.ErrNotFound for an unknown uid, the database's.
func (s *Server) loadClusterPage(ctx context.Context, uid string) (templates.ClusterShowView, string, error) {
	var (
		cl       inventory.Cluster
		versions []inventory.Version
		requests []approvals.Request
	)
	// One read-only snapshot: a sync that commits between two reads must
	// not split the page into two versions of the cluster.
	err := pgx.BeginTxFunc(ctx, s.deps.DB, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if cl, err = inventory.ClusterGet(ctx, tx, uid); err != nil {
			return err
		}
		// One more than shown: the last row's comparison link, and whether
		// older versions exist.
		if versions, err = inventory.VersionPage(ctx, tx, cl.UID, 0, clusterVersionsShown+1); err != nil {
			return err
		}
		requests, err = approvals.ListForCluster(ctx, tx, cl.UID, approvals.Page{Limit: clusterRequestsShown + 1})
		return err
	})
	if err != nil {
		return templates.ClusterShowView{}, "", err
	}
	view := clusterShowView(cl, versions, requests, s.states)
	view.Operations = clusterOperations(cl)
	// The key also sums up the operations, which viewers reload themselves
	// when teams make them depend on who looks.
	key := clusterLiveKey(cl, versions)
	for _, o := range view.Operations {
		key += "." + o.Kind
	}
	return view, key, nil
}

func clusterShowView(cl inventory.Cluster, versions []inventory.Version, requests []approvals.Request, states clusterStates) templates.ClusterShowView {
	v := templates.ClusterShowView{
		UID: cl.UID, Name: cl.Name, State: states.badge(cl.State, cl.Deleted(), cl.Unreadable),
		Environment: cl.Environment, Team: cl.Team,
		Deleted: cl.Deleted(), DeletedAt: timeText(cl.DeletedAt), Unreadable: cl.Unreadable,
		Spec: clusterSpecView(cl.Spec, cl.ResourceVersion),
		Status: templates.ClusterStatusView{
			State:  states.badge(cl.State, cl.Deleted(), cl.Unreadable),
			Health: string(cl.Status.Status), ServerCount: len(cl.Status.Servers),
			SyncedAt: timeText(cl.SyncedAt), ChangedAt: timeText(cl.ChangedAt), FirstSeenAt: timeText(cl.FirstSeenAt),
		},
	}
	if u := cl.Status.UpdateState; u != nil && states.busy(cl.State) {
		v.Status.UpdateRunning = true
		v.Status.Progress = fmt.Sprintf("stage %d of %d", u.CurrentStage, u.TotalStages)
	}
	if lb := cl.Status.LoadBalancers; lb != nil {
		v.Status.PublicLB, v.Status.PrivateLB = lb.Public, lb.Private
	}
	for _, srv := range cl.Status.Servers {
		v.Servers = append(v.Servers, templates.ClusterServerRow{
			NodeType: string(srv.NodeType), InstanceID: srv.InstanceID, InstanceType: srv.InstanceType,
			State: srv.State, PrivateIP: srv.PrivateIP,
		})
	}
	// The API's log as of the last sync, newest first.
	// The API appends, so equal timestamps keep the log's order reversed.
	events := slices.Clone(cl.Status.Events)
	slices.Reverse(events)
	slices.SortStableFunc(events, func(a, b cloudapi.Event) int { return b.Timestamp.Compare(a.Timestamp) })
	for _, e := range events[:min(len(events), clusterEventsShown)] {
		v.Events = append(v.Events, templates.ClusterEventRow{
			At: timeText(e.Timestamp), Level: strings.ToLower(string(e.Level)), Source: string(e.Source), Message: e.Message,
		})
	}
	v.Versions = clusterVersionRows(cl, versions)
	if len(v.Versions) > clusterVersionsShown {
		v.Versions = v.Versions[:clusterVersionsShown]
		v.OlderVersionsURL = olderVersionsURL(cl.UID, v.Versions[clusterVersionsShown-1].ResourceVersion)
	}
	if len(requests) > clusterRequestsShown {
		requests, v.RequestsCut = requests[:clusterRequestsShown], true
	}
	for _, r := range requests {
		v.Requests = append(v.Requests, templates.ClusterRequestRow{
			ID: r.ID, URL: requestURL(r.ID), Kind: kindWords(r.Kind), State: requestStateText(r.State), StateCode: string(r.State),
			Requester: r.Requester.Name, Reason: r.Revision.Reason, FiledAt: timeText(r.CreatedAt),
		})
	}
	v.RequestsURL = "/requests?" + url.Values{"cluster": {cl.Name}}.Encode()
	return v
}

// clusterSpecView summarises a spec: what a person checks before asking
// for a change.
func clusterSpecView(spec cloudapi.ClusterSpec, resourceVersion int64) templates.ClusterSpecView {
	v := templates.ClusterSpecView{
		Version: orNotSet(spec.Version), DesiredState: strings.ToLower(cmp.Or(string(spec.DesiredState), "not set")),
		InstanceRole: spec.AWSInstanceRole, KeyPair: spec.AWSKeyPair,
		EncryptVolumes: yesNo(spec.EncryptVolumes), DeepEncrypt: "not set",
		Extensions: spec.DruidExtensions, ResourceVersion: resourceVersion,
	}
	if ds := spec.DeepStorage; ds != nil {
		v.DeepStorage, v.DeepEncrypt = ds.Path, yesNo(ds.Encrypt)
	}
	if m := spec.MetadataStore; m != nil {
		v.MetadataStore = m.InstanceType
		if m.DiskSize != nil {
			v.MetadataStore += fmt.Sprintf(", %d GiB", *m.DiskSize)
		}
		if m.Encrypt != nil {
			v.MetadataStore += ", encrypted: " + yesNo(m.Encrypt)
		}
	}
	if p := spec.Pivot; p != nil {
		v.PivotAccess = strings.ToLower(string(p.AccessMode))
	}
	for _, e := range spec.CustomDruidExtensions {
		v.Extensions = append(v.Extensions, e.Name+" (custom)")
	}
	tier := func(name string, replicas *int32, instanceType string) {
		v.Tiers = append(v.Tiers, templates.ClusterTierRow{Name: name, Replicas: replicasText(replicas), InstanceType: instanceType})
	}
	if m := spec.Master; m != nil {
		tier("Master", m.Replicas, m.InstanceType)
	}
	if q := spec.Query; q != nil {
		tier("Query", q.Replicas, q.InstanceType)
	}
	if d := spec.Data; d != nil {
		for i, t := range []*cloudapi.DataTier{d.Tier1, d.Tier2, d.Tier3} {
			if t != nil {
				tier("Data tier "+strconv.Itoa(i+1), t.Replicas, t.InstanceType)
			}
		}
	}
	for _, tag := range spec.AWSTags {
		v.Tags = append(v.Tags, templates.ClusterTag{Name: tag.Name, Value: nameValueText(tag.Value)})
	}
	return v
}

// nameValueText is a tag's value as people read it: a JSON string
// unquoted, anything else as JSON.
func nameValueText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func replicasText(n *int32) string {
	if n == nil {
		return "not set"
	}
	return strconv.Itoa(int(*n))
}

func yesNo(b *bool) string {
	switch {
	case b == nil:
		return "not set"
	case *b:
		return "yes"
	}
	return "no"
}

func orNotSet(s string) string { return cmp.Or(s, "not set") }

// timeText is t for a <time data-relative> element; zero stays empty.
func timeText(t time.Time) templates.TimeText {
	if t.IsZero() {
		return templates.TimeText{}
	}
	t = t.UTC()
	return templates.TimeText{At: t.Format(time.RFC3339), Text: t.Format("2006-01-02 15:04:05 MST")}
}

// openRequestsURL is the requests list filtered to the open requests of
// the clusters named name.
func openRequestsURL(name string) string {
	q := url.Values{"cluster": {name}}
	for _, st := range approvals.States() {
		if st.Open() {
			q.Add("state", string(st))
		}
	}
	return "/requests?" + q.Encode()
}
