package templates

// ClusterVersionRow is one resource version the portal saw.
type ClusterVersionRow struct {
	ResourceVersion int64
	ImplyVersion    string
	SeenAt          TimeText
	Current         bool
}
