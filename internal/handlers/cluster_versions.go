package handlers

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
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
