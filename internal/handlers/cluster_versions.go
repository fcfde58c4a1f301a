package handlers

import (
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// clusterVersionRows are the configuration versions of cl for its page.
func clusterVersionRows(cl inventory.Cluster, versions []inventory.Version) []templates.ClusterVersionRow {
	rows := make([]templates.ClusterVersionRow, 0, len(versions))
	for _, ver := range versions {
		rows = append(rows, templates.ClusterVersionRow{
			ResourceVersion: ver.ResourceVersion, ImplyVersion: ver.Spec.Version,
			SeenAt: timeText(ver.FirstSeenAt), Current: ver.ResourceVersion == cl.ResourceVersion,
		})
	}
	return rows
}
