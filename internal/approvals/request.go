package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// Querier runs queries: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Request is a change request with its current revision.
type Request struct {
	ID    int64
	Kind  Kind
	State State
	// ClusterUID is empty for a create request until the cluster exists.
	ClusterUID  string
	ClusterName string
	Requester   Person
	CreatedAt   time.Time
	// UpdatedAt is the last time the state or revision changed.
	UpdatedAt time.Time
	// Revision is the current revision: what an approval approves.
	Revision Revision
}

// Environment is the environment of the request's cluster (for create: of
// the cluster to be).
func (r Request) Environment() string { return r.Revision.Environments[0] }

// Revision is one version of a request's content. Revision 1 is what was
// filed; every edit or rebase adds one.
type Revision struct {
	Number int
	// Author made this revision (the requester, or an admin who edited
	// it). Authors may not approve the request.
	Author Person
	Reason string
	// HasBase is false for create requests; BaseResourceVersion and
	// BaseSpec are the cluster as it was when the revision was made.
	HasBase             bool
	BaseResourceVersion int64
	BaseSpec            *cloudapi.ClusterSpec
	// ProposedSpec is the spec asked for; nil for delete and
	// restart_server.
	ProposedSpec *cloudapi.ClusterSpec
	Payload      Payload
	Diff         Diff
	DiffHash     Hash
	// Risks are re-derived from the stored diff when read.
	Risks []Risk
	// Environments are the cluster's environment, then the proposed one
	// when the change moves the cluster to another; policies match any.
	Environments []string
	// Changes is the diff of diffs from the previous revision (what the
	// cluster did between the two bases and how the proposal's diff
	// changed); nil for the first revision.
	Changes   *RevisionChanges
	CreatedAt time.Time
}

// Patch returns the merge patch that turns the base spec into the
// proposed one: the body of the update call for update, stop and start.
// Errors: ErrInvalid for kinds without a base and a proposal.
func (v Revision) Patch() (json.RawMessage, error) {
	if v.BaseSpec == nil || v.ProposedSpec == nil {
		return nil, fmt.Errorf("%w: this revision has no base and proposal to patch", ErrInvalid)
	}
	return cloudapi.SpecPatch(*v.BaseSpec, *v.ProposedSpec)
}

// RiskCodes returns the codes of the revision's risks.
func (v Revision) RiskCodes() []RiskCode {
	codes := make([]RiskCode, len(v.Risks))
	for i, r := range v.Risks {
		codes[i] = r.Code
	}
	return codes
}

// requestSelect reads requests with their current revision; callers add
// WHERE, ORDER BY and locking clauses.
const requestSelect = `
	SELECT r.id, r.kind, r.state, coalesce(r.cluster_uid, ''), r.cluster_name,
	       r.requester_id, coalesce(nullif(ru.name, ''), ru.username), r.created_at, r.updated_at,
	       ` + revisionColumns + `
	FROM change_requests r
	JOIN users ru ON ru.id = r.requester_id
	JOIN request_revisions v ON v.request_id = r.id AND v.revision = r.revision
	JOIN users au ON au.id = v.author_id`

const revisionColumns = `v.revision, v.author_id, coalesce(nullif(au.name, ''), au.username), v.reason,
	       v.base_resource_version, v.base_spec, v.proposed_spec, v.payload, v.diff, v.diff_hash,
	       v.environments, v.rebase, v.created_at`

// Get returns request id with its current revision. Errors: ErrNotFound.
func Get(ctx context.Context, q Querier, id int64) (Request, error) {
	r, err := scanRequest(q.QueryRow(ctx, requestSelect+" WHERE r.id = $1", id))
	if err != nil {
		return Request{}, fmt.Errorf("approvals: request %d: %w", id, notFound(err))
	}
	return r, nil
}

// requestLock reads request id and locks its row until tx ends: every
// use case that changes a request starts here, so changes of one request
// are serialised.
//
// The lock is taken by a statement of its own and the request read by the
// next one: under READ COMMITTED a locking join that waited for another
// transaction would re-check the new row against the old revision row and
// find nothing.
func requestLock(ctx context.Context, tx pgx.Tx, id int64) (Request, error) {
	var locked int64
	if err := tx.QueryRow(ctx, "SELECT id FROM change_requests WHERE id = $1 FOR UPDATE", id).Scan(&locked); err != nil {
		return Request{}, notFound(err)
	}
	r, err := scanRequest(tx.QueryRow(ctx, requestSelect+" WHERE r.id = $1", id))
	return r, notFound(err)
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

func scanRequest(row pgx.Row) (Request, error) {
	var (
		r          Request
		kind, st   string
		dest       = revisionDest{}
		requestCol = []any{&r.ID, &kind, &st, &r.ClusterUID, &r.ClusterName,
			&r.Requester.ID, &r.Requester.Name, &r.CreatedAt, &r.UpdatedAt}
	)
	if err := row.Scan(append(requestCol, dest.targets()...)...); err != nil {
		return Request{}, err
	}
	r.Kind, r.State = Kind(kind), State(st)
	rev, err := dest.revision(r.Kind)
	if err != nil {
		return Request{}, fmt.Errorf("request %d: %w", r.ID, err)
	}
	r.Revision = rev
	return r, nil
}

// revisionDest receives the revisionColumns of one row.
type revisionDest struct {
	rev                         Revision
	baseRV                      *int64
	baseSpec, proposed, payload []byte
	diff, hash                  []byte
	changes                     []byte
}

func (d *revisionDest) targets() []any {
	return []any{&d.rev.Number, &d.rev.Author.ID, &d.rev.Author.Name, &d.rev.Reason,
		&d.baseRV, &d.baseSpec, &d.proposed, &d.payload, &d.diff, &d.hash,
		&d.rev.Environments, &d.changes, &d.rev.CreatedAt}
}

func (d *revisionDest) revision(kind Kind) (Revision, error) {
	v := d.rev
	if d.baseRV != nil {
		v.HasBase, v.BaseResourceVersion = true, *d.baseRV
	}
	var err error
	if v.BaseSpec, err = decodeSpecColumn(d.baseSpec); err != nil {
		return Revision{}, fmt.Errorf("base spec: %w", err)
	}
	if v.ProposedSpec, err = decodeSpecColumn(d.proposed); err != nil {
		return Revision{}, fmt.Errorf("proposed spec: %w", err)
	}
	if err := json.Unmarshal(d.payload, &v.Payload); err != nil {
		return Revision{}, fmt.Errorf("payload: %w", err)
	}
	if err := json.Unmarshal(d.diff, &v.Diff); err != nil {
		return Revision{}, fmt.Errorf("diff: %w", err)
	}
	copy(v.DiffHash[:], d.hash)
	if v.Changes, err = decodeChanges(d.changes); err != nil {
		return Revision{}, fmt.Errorf("changes: %w", err)
	}
	v.Risks = Risks(kind, v.Diff, v.Payload, v.Environments)
	return v, nil
}

func decodeSpecColumn(raw []byte) (*cloudapi.ClusterSpec, error) {
	if raw == nil {
		return nil, nil
	}
	var spec cloudapi.ClusterSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, err
	}
	return &spec, nil
}

// notifyRequest announces a change of r on the inventory's channel; the
// payload is a RequestNotification.
func notifyRequest(ctx context.Context, tx pgx.Tx, r Request) error {
	payload, err := notification(r)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "SELECT pg_notify($1, $2)", inventory.NotifyChannel, payload)
	return err
}

// notification is the payload announcing r as it is.
func notification(r Request) (string, error) {
	payload, err := json.Marshal(RequestNotification{Type: "request", ID: r.ID, State: r.State,
		Revision: r.Revision.Number, ClusterUID: r.ClusterUID})
	return string(payload), err
}

// RequestNotification is the JSON payload announcing that a request
// changed (filed, edited, decided, moved to another state).
type RequestNotification struct {
	Type       string `json:"type"` // always "request"
	ID         int64  `json:"id"`
	State      State  `json:"state"`
	Revision   int    `json:"revision"`
	ClusterUID string `json:"cluster_uid,omitempty"`
}

func subjectID(id int64) string { return strconv.FormatInt(id, 10) }
