// Package inventory keeps Clusterdesk's copy of the clusters the Cloud
// Manager API manages, so that pages never call the API: the number of API
// calls depends on the sync interval and on explicit refreshes, not on the
// number of people looking.
//
// A Syncer lists every cluster with one API call per Sync and records them in
// the clusters table in one transaction whose cost follows the changes, not
// the clusters: one statement compares the listed clusters' hashes with the
// stored ones, new clusters are inserted and changed ones updated (nothing
// is written for an unchanged one), one statement marks deleted the
// clusters the API no longer lists (their rows stay, since requests and the
// audit log point at them), and one records the run's time, which is when
// every listed cluster was last seen (Cluster.SyncedAt). A
// listed cluster the client could not decode keeps its last readable row,
// marked unreadable with the reason until a read succeeds again, so one odd
// cluster neither vanishes nor stops the others from syncing. Refresh
// does the same for one cluster with one GetCluster call. Every resource
// version seen is added to cluster_versions; versions that came and went
// between two reads are fetched once from the API's history call (when the
// API has it, see HistoryAPI), and Version fetches an older one on demand.
// Versions never change and are never fetched twice. Each change is announced with
// pg_notify on the channel "clusterdesk" (see Notification) when the
// transaction commits, and passed to Config.OnChange inside that
// transaction, which is how pending change requests learn that their base
// moved.
//
// Each cluster gets an environment and an owning team from Rules: a tag
// first (awsTags "environment" or "env", and "team"), then the first
// matching name rule, then the defaults ("default" and no team).
//
// ClusterList and ClusterGet are the queries of the cluster pages;
// Environments reads the environments the sync keeps in a small table;
// VersionList and VersionGet read the versions with who made them
// (attributed by approvals.SettleVersions) and the drift ending at each.
package inventory
