package api

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/execution"
)

// Person is someone as a request names them.
type Person struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// RequestSummary is a change request in a list.
type RequestSummary struct {
	ID          int64     `json:"id"`
	Kind        string    `json:"kind"`
	State       string    `json:"state"`
	ClusterUID  string    `json:"cluster_uid,omitempty"`
	ClusterName string    `json:"cluster_name"`
	Requester   Person    `json:"requester"`
	Revision    int       `json:"revision"`
	Reason      string    `json:"reason"`
	DiffHash    string    `json:"diff_hash"`
	Needed      int       `json:"approvals_needed"`
	Given       int       `json:"approvals_given"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Request is one change request with what it will do and how far it has
// come.
type Request struct {
	RequestSummary
	Author              Person             `json:"author"`
	BaseResourceVersion *int64             `json:"base_resource_version,omitempty"`
	HardUpdate          bool               `json:"hard_update"`
	InstanceID          string             `json:"instance_id,omitempty"`
	Plan                Plan               `json:"plan"`
	Diff                []approvals.Change `json:"diff"`
	Risks               []Risk             `json:"risks"`
	Policy              *Policy            `json:"policy,omitempty"`
	Approvals           []Decision         `json:"approvals"`
	Rejection           *Decision          `json:"rejection,omitempty"`
	// QueuePosition is 1 when no earlier open request on the cluster is
	// ahead of this one, n when n-1 are.
	QueuePosition int   `json:"queue_position"`
	Ahead         []int `json:"ahead"`
	// CanApprove and Blocker say whether the token's owner may approve it
	// now, and why not.
	CanApprove bool            `json:"can_approve"`
	Blocker    string          `json:"blocker,omitempty"`
	Timeline   []TimelineEvent `json:"timeline"`
	// Execution is how far sending the approved revision has come; absent
	// before an approval.
	Execution *Execution `json:"execution,omitempty"`
	// ExpiredApprovals no longer count (older than the policy's age);
	// ExpiresAt is when the first approval that counts expires, absent
	// without one.
	ExpiredApprovals []ExpiredApproval `json:"expired_approvals"`
	ExpiresAt        *time.Time        `json:"expires_at,omitempty"`
}

// ExpiredApproval is an approval that expired: it no longer counts.
type ExpiredApproval struct {
	Approver   Person    `json:"approver"`
	ApprovedAt time.Time `json:"approved_at"`
	ExpiredAt  time.Time `json:"expired_at"`
}

// Execution is the progress of the change in Cloud Manager.
type Execution struct {
	// Stage of Stages is the update's progress as Cloud Manager reports
	// it (0 of 0 until it does).
	Stage        int    `json:"stage"`
	Stages       int    `json:"stages"`
	ClusterState string `json:"cluster_state,omitempty"`
	// Reason says why it failed.
	Reason      string `json:"reason,omitempty"`
	NeedsPerson bool   `json:"needs_person"`
	Attempts    int    `json:"attempts"`
}

// Plan is what the request will do, said in words first.
type Plan struct {
	Headline string   `json:"headline"`
	Effects  []string `json:"effects"`
	Add      int      `json:"add"`
	Change   int      `json:"change"`
	Remove   int      `json:"remove"`
	Downtime bool     `json:"downtime"`
}

// Risk is a risk hint of the diff.
type Risk struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Paths   []string `json:"paths,omitempty"`
}

// Policy is the approval policy that applies.
type Policy struct {
	ID             int64    `json:"id"`
	Name           string   `json:"name"`
	Needed         int      `json:"approvals_required"`
	ApproverGroups []string `json:"approver_groups"`
	MaxAgeSeconds  int64    `json:"approval_max_age_seconds"`
	// Teams it matches (the team owning the request's cluster); empty: any.
	Teams []string `json:"teams"`
}

// Decision is one approval or rejection.
type Decision struct {
	Approver Person    `json:"approver"`
	Decision string    `json:"decision"`
	Revision int       `json:"revision"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
	// RenewedAt is when an approval that had expired was renewed.
	RenewedAt *time.Time `json:"renewed_at,omitempty"`
}

// TimelineEvent is one audit event about the request.
type TimelineEvent struct {
	Seq    int64           `json:"seq"`
	At     time.Time       `json:"at"`
	Action string          `json:"action"`
	Actor  string          `json:"actor"`
	Data   json.RawMessage `json:"data"`
}

func summaryOf(r approvals.Request, needed, given int) RequestSummary {
	return RequestSummary{ID: r.ID, Kind: string(r.Kind), State: string(r.State), ClusterUID: r.ClusterUID,
		ClusterName: r.ClusterName, Requester: Person(r.Requester), Revision: r.Revision.Number,
		Reason: r.Revision.Reason, DiffHash: r.Revision.DiffHash.String(), Needed: needed, Given: given,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func planOf(p approvals.Plan) Plan {
	out := Plan{Headline: p.Headline, Effects: p.Effects, Add: p.Add, Change: p.Change, Remove: p.Remove, Downtime: p.Downtime}
	if out.Effects == nil {
		out.Effects = []string{}
	}
	return out
}

func risksOf(rs []approvals.Risk) []Risk {
	out := make([]Risk, 0, len(rs))
	for _, r := range rs {
		out = append(out, Risk{Code: string(r.Code), Message: r.Message, Paths: r.Paths})
	}
	return out
}

func policyOf(p approvals.Policy) *Policy {
	if p.ID == 0 {
		return nil
	}
	groups := p.ApproverGroups
	if groups == nil {
		groups = []string{}
	}
	teams := p.Teams
	if teams == nil {
		teams = []string{}
	}
	return &Policy{ID: p.ID, Name: p.Name, Needed: p.ApprovalsRequired, ApproverGroups: groups,
		MaxAgeSeconds: int64(p.ApprovalMaxAge / time.Second), Teams: teams}
}

func decisionOf(a approvals.Approval) Decision {
	d := Decision{Approver: Person(a.Approver), Decision: string(a.Decision), Revision: a.Revision, Comment: a.Comment, At: a.CreatedAt}
	if !a.RenewedAt.IsZero() {
		d.RenewedAt = &a.RenewedAt
	}
	return d
}

// requestTimelineShown bounds the timeline of a request, newest first.
const requestTimelineShown = 100

// requestView reads request id for the viewer: the request, what it will
// do, its approvals, the requests ahead of it and its timeline.
func (s *Server) requestView(ctx context.Context, id int64, viewer approvals.Actor) (Request, error) {
	r, err := approvals.Get(ctx, s.deps.DB, id)
	if err != nil {
		return Request{}, err
	}
	req, err := approvals.WhatItTakes(ctx, s.deps.DB, id, viewer)
	if err != nil && !isNoPolicy(err) {
		return Request{}, err
	}
	v := r.Revision
	out := Request{
		RequestSummary: summaryOf(r, req.Needed(), req.Given()),
		Author:         Person(v.Author), HardUpdate: v.Payload.HardUpdate, InstanceID: v.Payload.InstanceID,
		Plan: planOf(approvals.PlanOf(r.Kind, r.ClusterName, v)), Diff: v.Diff, Risks: risksOf(v.Risks),
		Policy: policyOf(req.Policy), Approvals: []Decision{}, Ahead: []int{}, CanApprove: err == nil && req.CanApprove(),
		Timeline: []TimelineEvent{}, ExpiredApprovals: []ExpiredApproval{},
	}
	if out.Diff == nil {
		out.Diff = []approvals.Change{}
	}
	if v.HasBase {
		base := v.BaseResourceVersion
		out.BaseResourceVersion = &base
	}
	switch {
	case err != nil:
		out.Blocker = "no approval policy matches this request"
	case req.Blocker != nil:
		out.Blocker = problemOf(req.Blocker).Code
	}
	for _, a := range req.Approvals {
		out.Approvals = append(out.Approvals, decisionOf(a))
	}
	if req.Rejection != nil {
		d := decisionOf(*req.Rejection)
		out.Rejection = &d
	}
	for _, a := range req.Expired {
		out.ExpiredApprovals = append(out.ExpiredApprovals, ExpiredApproval{Approver: Person(a.Approver),
			ApprovedAt: a.CountsFrom(), ExpiredAt: a.ExpiresAt(req.Policy)})
	}
	if !req.ExpiresAt.IsZero() {
		out.ExpiresAt = &req.ExpiresAt
	}
	for _, o := range req.Overlaps {
		if o.Request.ID < r.ID && o.Request.ID != r.ID {
			out.Ahead = append(out.Ahead, int(o.Request.ID))
		}
	}
	out.QueuePosition = len(out.Ahead) + 1
	sub, err := execution.SubmissionGet(ctx, s.deps.DB, id, v.Number)
	switch {
	case err == nil:
		out.Execution = &Execution{Stage: sub.CurrentStage, Stages: sub.TotalStages, ClusterState: sub.ClusterState,
			Reason: sub.Reason, NeedsPerson: sub.NeedsPerson, Attempts: sub.LastAttempt}
	case !errors.Is(err, pgx.ErrNoRows):
		return Request{}, err
	}
	page, err := audit.List(ctx, s.deps.DB, audit.Filter{SubjectType: audit.SubjectRequest, SubjectID: strconv.FormatInt(id, 10)},
		audit.PageRequest{Limit: requestTimelineShown})
	if err != nil {
		return Request{}, err
	}
	for _, e := range page.Entries {
		out.Timeline = append(out.Timeline, TimelineEvent{Seq: e.Seq, At: e.At, Action: string(e.Action),
			Actor: cmpOr(e.Actor.Name, e.Actor.ID), Data: e.Data})
	}
	return out, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// etagOf is a request's entity tag: its revision, which every edit and
// rebase moves.
func etagOf(id int64, revision int) string {
	return `"` + strconv.FormatInt(id, 10) + "-" + strconv.Itoa(revision) + `"`
}
