package handlers

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// clusterVersionRows are the configuration versions of cl for its page,
// newest first as versions are: who made each (a request, or a change
// outside Clusterdesk with its drift), and the links to compare a version
// with the one before it and to roll back to it.
func clusterVersionRows(cl inventory.Cluster, versions []inventory.Version) []templates.ClusterVersionRow {
	rows := make([]templates.ClusterVersionRow, 0, len(versions))
	base := clusterURL(cl.UID) + "/versions/"
	for i, ver := range versions {
		row := templates.ClusterVersionRow{
			ResourceVersion: ver.ResourceVersion, ImplyVersion: ver.Spec.Version,
			SeenAt: timeText(ver.FirstSeenAt), Current: ver.ResourceVersion == cl.ResourceVersion,
			ProducedBy: ver.ProducedBy, Outside: ver.Attributed && ver.Outside, Pending: !ver.Attributed,
			FromHistory: ver.Source == inventory.SourceHistory,
		}
		if ver.ProducedBy > 0 {
			row.ProducedByURL = "/requests/" + strconv.FormatInt(ver.ProducedBy, 10)
		}
		if i+1 < len(versions) {
			row.CompareURL = versionCompareURL(cl.UID, versions[i+1].ResourceVersion, ver.ResourceVersion)
		}
		if !row.Current && !cl.Deleted() {
			row.RollbackURL = base + strconv.FormatInt(ver.ResourceVersion, 10) + "/rollback"
		}
		if d := ver.Drift; d != nil {
			var diff approvals.Diff
			_ = json.Unmarshal(d.Diff, &diff) // stored by approvals; an unreadable one lists no paths
			row.Drift = &templates.ClusterDriftRow{
				From: d.FromResourceVersion, To: ver.ResourceVersion, DetectedAt: timeText(d.DetectedAt),
				Paths:      diff.Paths(),
				CompareURL: versionCompareURL(cl.UID, d.FromResourceVersion, ver.ResourceVersion),
				AuditURL:   "/audit/events/" + strconv.FormatInt(d.AuditSeq, 10),
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func versionCompareURL(uid string, from, to int64) string {
	return clusterURL(uid) + "/versions/compare?from=" + strconv.FormatInt(from, 10) + "&to=" + strconv.FormatInt(to, 10)
}

// clusterLiveKey sums up what the cluster page's versions section shows:
// the versions, how each is attributed, and which one is the cluster's now
// (it gets no rollback link; none does once the cluster is deleted). A
// viewer whose page was drawn with another key reloads that section, which
// depends on who looks (only requesters get rollback links). The version
// a change produces can be recorded before the cluster's row moves to it,
// so the current one is part of the key, not only the list.
func clusterLiveKey(cl inventory.Cluster, versions []inventory.Version) string {
	attributed := 0
	for _, v := range versions {
		if v.Attributed {
			attributed++
		}
	}
	top := int64(0)
	if len(versions) > 0 {
		top = versions[0].ResourceVersion
	}
	return fmt.Sprintf("%d.%d.%d.%d.%t", top, len(versions), attributed, cl.ResourceVersion, cl.Deleted())
}

// clusterVersionsPerPage is how many versions a page of older versions
// lists.
const clusterVersionsPerPage = 50

// clusterVersionsOlder lists the versions of cluster uid older than
// ?before=RV, a keyset page (newest first) read from the versions' primary
// key, however many versions the cluster has. The cluster page links here
// from its last version shown.
func (s *Server) clusterVersionsOlder(c echo.Context) error {
	ctx := c.Request().Context()
	before, err := strconv.ParseInt(c.QueryParam("before"), 10, 64)
	if err != nil || before <= 0 {
		return fmt.Errorf("%w: that page link is broken: start again from the cluster's page", approvals.ErrInvalid)
	}
	var (
		cl       inventory.Cluster
		versions []inventory.Version
	)
	err = pgx.BeginTxFunc(ctx, s.deps.DB, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if cl, err = inventory.ClusterGet(ctx, tx, c.Param("uid")); err != nil {
			return err
		}
		versions, err = inventory.VersionPage(ctx, tx, cl.UID, before, clusterVersionsPerPage+1)
		return err
	})
	if err != nil {
		return err
	}
	v := templates.ClusterVersionsView{ClusterUID: cl.UID, ClusterName: cl.Name, Before: before, Versions: clusterVersionRows(cl, versions)}
	if len(v.Versions) > clusterVersionsPerPage {
		v.Versions = v.Versions[:clusterVersionsPerPage]
		v.OlderURL = olderVersionsURL(cl.UID, v.Versions[clusterVersionsPerPage-1].ResourceVersion)
	}
	if u, _ := auth.UserFrom(ctx); !u.Has(auth.RoleRequester) {
		for i := range v.Versions {
			v.Versions[i].RollbackURL = ""
		}
	}
	return s.ok(c, templates.ClusterVersionsPage(s.page(c, "Older versions of "+cl.Name), v))
}

// olderVersionsURL is the page of cluster uid's versions older than rv.
func olderVersionsURL(uid string, rv int64) string {
	return clusterURL(uid) + "/versions?" + url.Values{"before": {strconv.FormatInt(rv, 10)}}.Encode()
}
