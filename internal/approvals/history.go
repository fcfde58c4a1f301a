package approvals

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// Drift is a change of a cluster's configuration that no Clusterdesk
// request explains: the versions after From up to To were made outside
// Clusterdesk. Diff is From's spec against To's.
type Drift struct {
	ID                  int64
	ClusterUID          string
	FromResourceVersion int64
	ToResourceVersion   int64
	Diff                Diff
	DetectedAt          time.Time
	// AuditSeq is the cluster.drift_detected event.
	AuditSeq int64
}

// DriftNotification is the JSON payload (on inventory.NotifyChannel)
// announcing a drift.
type DriftNotification struct {
	Type                string `json:"type"` // always "drift"
	ID                  int64  `json:"id"`
	ClusterUID          string `json:"cluster_uid"`
	FromResourceVersion int64  `json:"from_resource_version"`
	ToResourceVersion   int64  `json:"to_resource_version"`
}

// DriftList returns the drifts of cluster uid, newest first.
func DriftList(ctx context.Context, q Querier, uid string) ([]Drift, error) {
	rows, err := q.Query(ctx, `
		SELECT id, cluster_uid, from_resource_version, to_resource_version, diff, detected_at, audit_seq
		FROM cluster_drifts WHERE cluster_uid = $1 ORDER BY id DESC`, uid)
	if err != nil {
		return nil, fmt.Errorf("approvals: drifts of %q: %w", uid, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Drift, error) {
		var (
			d   Drift
			raw []byte
		)
		if err := row.Scan(&d.ID, &d.ClusterUID, &d.FromResourceVersion, &d.ToResourceVersion, &raw, &d.DetectedAt, &d.AuditSeq); err != nil {
			return Drift{}, err
		}
		return d, json.Unmarshal(raw, &d.Diff)
	})
	if err != nil {
		return nil, fmt.Errorf("approvals: drifts of %q: %w", uid, err)
	}
	return list, nil
}

// SettleVersions attributes the versions of cluster uid that are not
// attributed yet, oldest first, and records a Drift (with its
// cluster.drift_detected event and a notification) for each run of
// versions made outside Clusterdesk. The worker calls it in the
// transaction that records a submission's outcome (accepted, reconciled,
// failed), before appending its own audit events; the inventory's hook
// (ClusterChanged) calls it for every cluster a sync or refresh saw move.
//
// A version is the request's whose submission targeted it (the resource
// version the API answered the accepted call with). While a submission on
// the cluster is in flight (state submitting: its call may have been
// applied before its answer is recorded), the version and every later one
// stay unattributed: they may be its own, and a request's change is never
// reported as drift. Otherwise the version was made outside Clusterdesk.
// The first version Clusterdesk has of a cluster is its origin, not a
// drift.
//
// Concurrent callers for one cluster are serialised by a lock taken here;
// take it before the other writes of tx, so that callers queue in one order.
func SettleVersions(ctx context.Context, tx pgx.Tx, uid string) error {
	drifts, err := attribute(ctx, tx, uid)
	if err != nil {
		return fmt.Errorf("approvals: settle versions of %q: %w", uid, err)
	}
	if err := recordDrifts(ctx, tx, drifts); err != nil {
		return fmt.Errorf("approvals: settle versions of %q: %w", uid, err)
	}
	return nil
}

// driftRun is a drift found, not stored yet.
type driftRun struct {
	uid, name        string
	from, to         int64
	fromSpec, toSpec cloudapi.ClusterSpec
}

// lockVersions serialises the attribution of uid's versions until tx ends.
func lockVersions(ctx context.Context, tx pgx.Tx, uid string) error {
	_, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('clusterdesk.versions:' || $1, 0))", uid)
	return err
}

// attribute attributes uid's unattributed versions (see SettleVersions)
// and returns the drifts found, without storing them.
func attribute(ctx context.Context, tx pgx.Tx, uid string) ([]driftRun, error) {
	if err := lockVersions(ctx, tx, uid); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `
		SELECT v.resource_version, v.spec,
		       (SELECT s.request_id FROM submissions s
		        WHERE s.cluster_uid = v.cluster_uid AND s.target_resource_version = v.resource_version
		        ORDER BY s.seq DESC LIMIT 1),
		       (SELECT max(p.resource_version) FROM cluster_versions p
		        WHERE p.cluster_uid = v.cluster_uid AND p.resource_version < v.resource_version)
		FROM cluster_versions v
		WHERE v.cluster_uid = $1 AND v.outside IS NULL
		ORDER BY v.resource_version`, uid)
	if err != nil {
		return nil, err
	}
	type pending struct {
		rv       int64
		spec     []byte
		producer *int64
		previous *int64
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pending, error) {
		var p pending
		err := row.Scan(&p.rv, &p.spec, &p.producer, &p.previous)
		return p, err
	})
	if err != nil || len(list) == 0 {
		return nil, err
	}
	var (
		inFlight bool
		name     string
	)
	err = tx.QueryRow(ctx, `
		SELECT c.name, EXISTS (
			SELECT 1 FROM submissions s JOIN change_requests r ON r.id = s.request_id AND r.revision = s.revision
			WHERE (s.cluster_uid = c.uid OR s.cluster_key = c.uid OR s.cluster_key = 'name:' || c.name)
			  AND (r.state = 'submitting' OR r.state = 'applying' AND s.target_resource_version IS NULL))
		FROM clusters c WHERE c.uid = $1`, uid).Scan(&name, &inFlight)
	if err != nil {
		return nil, err
	}
	var (
		drifts []driftRun
		run    *driftRun
	)
	for _, p := range list {
		var producer *int64
		outside := false
		switch {
		case p.producer != nil:
			producer = p.producer
		case inFlight:
			// This version, and every later one, may be the in-flight
			// submission's: decided when its outcome is recorded.
			return finishRuns(ctx, tx, uid, drifts, run)
		default:
			outside = true
		}
		if _, err := tx.Exec(ctx, `
			UPDATE cluster_versions SET produced_by_request_id = $3, outside = $4, attributed_at = now()
			WHERE cluster_uid = $1 AND resource_version = $2`, uid, p.rv, producer, outside); err != nil {
			return nil, err
		}
		if !outside || p.previous == nil {
			if run != nil {
				drifts = append(drifts, *run)
				run = nil
			}
			continue
		}
		var spec cloudapi.ClusterSpec
		if err := json.Unmarshal(p.spec, &spec); err != nil {
			return nil, err
		}
		if run == nil {
			run = &driftRun{uid: uid, name: name, from: *p.previous}
		}
		run.to, run.toSpec = p.rv, spec
	}
	return finishRuns(ctx, tx, uid, drifts, run)
}

// finishRuns closes the open run and reads each run's starting spec.
func finishRuns(ctx context.Context, tx pgx.Tx, uid string, drifts []driftRun, run *driftRun) ([]driftRun, error) {
	if run != nil {
		drifts = append(drifts, *run)
	}
	for i := range drifts {
		v, err := inventory.VersionGet(ctx, tx, uid, drifts[i].from)
		if err != nil {
			return nil, err
		}
		drifts[i].fromSpec = v.Spec
	}
	return drifts, nil
}

// recordDrifts stores each drift with its audit event and notification.
func recordDrifts(ctx context.Context, tx pgx.Tx, drifts []driftRun) error {
	for _, d := range drifts {
		diff, err := DiffSpecs(&d.fromSpec, &d.toSpec)
		if err != nil {
			return err
		}
		if diff == nil {
			diff = Diff{}
		}
		raw, err := json.Marshal(diff)
		if err != nil {
			return err
		}
		entry, err := audit.Append(ctx, tx, audit.Event{
			Actor: systemActor, Action: audit.ClusterDriftDetected,
			Subject: audit.Subject{Type: audit.SubjectCluster, ID: d.uid},
			Data: map[string]any{
				"cluster_uid": d.uid, "cluster_name": d.name,
				"from_resource_version": d.from, "to_resource_version": d.to,
				"changes": len(diff), "paths": diff.Paths(),
			},
		})
		if err != nil {
			return err
		}
		var id int64
		err = tx.QueryRow(ctx, `
			INSERT INTO cluster_drifts (cluster_uid, from_resource_version, to_resource_version, diff, audit_seq)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, d.uid, d.from, d.to, raw, entry.Seq).Scan(&id)
		if err != nil {
			return err
		}
		payload, err := json.Marshal(DriftNotification{Type: "drift", ID: id, ClusterUID: d.uid,
			FromResourceVersion: d.from, ToResourceVersion: d.to})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", inventory.NotifyChannel, string(payload)); err != nil {
			return err
		}
	}
	return nil
}

// settleChanged attributes the versions of every cluster in changes that
// got a new version (or first appeared), in uid order, and returns the
// drifts to record once the requests are locked.
func settleChanged(ctx context.Context, tx pgx.Tx, changes []inventory.Change) ([]driftRun, error) {
	var uids []string
	for _, c := range changes {
		if c.Kind == inventory.ChangeCreated || c.Kind == inventory.ChangeUpdated && c.ResourceVersion != c.PreviousResourceVersion {
			uids = append(uids, c.UID)
		}
	}
	slices.Sort(uids)
	uids = slices.Compact(uids)
	var all []driftRun
	for _, uid := range uids {
		drifts, err := attribute(ctx, tx, uid)
		if err != nil {
			return nil, fmt.Errorf("approvals: attribute versions of %q: %w", uid, err)
		}
		all = append(all, drifts...)
	}
	return all, nil
}
