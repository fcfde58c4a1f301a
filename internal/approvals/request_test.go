package approvals_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

func TestFileAnUpdate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := f.cluster(t, f.prod)
	r := f.update(t, f.alice, f.prod, func(s *cloudapi.ClusterSpec) {
		s.Data.Tier1.Replicas = ptr[int32](3)
		s.Version = "2024.07"
	})
	require.Equal(t, approvals.KindUpdate, r.Kind)
	require.Equal(t, approvals.StatePending, r.State)
	require.Equal(t, f.prod, r.ClusterUID)
	require.Equal(t, "analytics-prod", r.ClusterName)
	require.Equal(t, approvals.Person{ID: f.alice.UserID, Name: f.alice.Name}, r.Requester)
	v := r.Revision
	require.Equal(t, 1, v.Number)
	require.Equal(t, r.Requester, v.Author)
	require.True(t, v.HasBase)
	require.Equal(t, c.ResourceVersion, v.BaseResourceVersion)
	require.Equal(t, "2024.01", v.BaseSpec.Version)
	require.Equal(t, "2024.07", v.ProposedSpec.Version)
	require.Equal(t, []string{"spec.version", "spec.data.tier1.replicas"}, v.Diff.Paths())
	require.Equal(t, []approvals.RiskCode{approvals.RiskScaleDown, approvals.RiskVersion, approvals.RiskProduction}, v.RiskCodes())
	require.Equal(t, []string{"production"}, v.Environments)
	require.Equal(t, "production", r.Environment())

	patch, err := v.Patch()
	require.NoError(t, err)
	require.JSONEq(t, `{"spec":{"version":"2024.07","data":{"tier1":{"replicas":3}}}}`, string(patch))

	entries := f.events(t, r.ID)
	require.Equal(t, []audit.Action{audit.RequestCreated}, actions(entries))
	var data map[string]any
	require.NoError(t, json.Unmarshal(entries[0].Data, &data))
	require.Equal(t, v.DiffHash.String(), data["diff_hash"])
	require.Equal(t, []any{"scale_down", "version_change", "production"}, data["risks"])
	require.Equal(t, "more capacity for the holiday season", data["reason"])
}

func TestFileEveryKind(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	stop := f.file(t, f.alice, approvals.KindStop, f.staging)
	require.Equal(t, []string{"spec.desiredState"}, stop.Revision.Diff.Paths())
	require.Equal(t, []approvals.RiskCode{approvals.RiskStop}, stop.Revision.RiskCodes())

	start := f.file(t, f.alice, approvals.KindStart, f.dev)
	require.Equal(t, cloudapi.DesiredStarted, start.Revision.ProposedSpec.DesiredState)
	require.Equal(t, []string{"development"}, start.Revision.Environments)

	del := f.file(t, f.alice, approvals.KindDelete, f.dev)
	require.Empty(t, del.Revision.Diff)
	require.Nil(t, del.Revision.ProposedSpec)
	require.Equal(t, []approvals.RiskCode{approvals.RiskDelete}, del.Revision.RiskCodes())
	_, err := del.Revision.Patch()
	require.ErrorIs(t, err, approvals.ErrInvalid)

	restart := f.file(t, f.alice, approvals.KindRestartServer, f.staging)
	require.NotEmpty(t, restart.Revision.Payload.InstanceID)
	require.Empty(t, restart.Revision.Diff)
	other := f.cluster(t, f.staging).Status.Servers[1].InstanceID
	restart2, err := f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindRestartServer, ClusterUID: f.staging, Reason: "hung", InstanceID: other})
	require.NoError(t, err)
	require.NotEqual(t, restart.Revision.DiffHash, restart2.Revision.DiffHash, "the server is part of what is approved")

	name := "clickstream-staging"
	s := newSpec()
	s.AWSTags = []cloudapi.NameValue{cloudapi.StringValue("environment", "Staging")}
	create, err := f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindCreate, Name: name, Reason: "new team", Spec: &s})
	require.NoError(t, err)
	require.Empty(t, create.ClusterUID)
	require.Equal(t, name, create.ClusterName)
	require.False(t, create.Revision.HasBase)
	require.Nil(t, create.Revision.BaseSpec)
	require.Equal(t, []string{"staging"}, create.Revision.Environments, "from the proposed tags")
	first := create.Revision.Diff[0]
	require.Equal(t, "metadata.name", first.Path)
	require.JSONEq(t, `"clickstream-staging"`, string(first.After))
	require.Contains(t, create.Revision.Diff.Paths(), "spec.deepStorage.path")
	require.Empty(t, create.Revision.Risks)
}

func TestFilingRefusesBadInput(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	c := f.cluster(t, f.staging)
	same := cloneSpec(t, c.Spec)
	bad := cloneSpec(t, c.Spec)
	bad.DeepStorage.Path = "/tmp/segments"
	old := c.ResourceVersion - 1
	spec := newSpec()

	for _, tc := range []struct {
		name string
		in   approvals.NewRequest
		want error
	}{
		{"rollback without a version", approvals.NewRequest{Kind: approvals.KindRollback, ClusterUID: f.staging, Reason: "x"}, approvals.ErrInvalid},
		{"unknown kind", approvals.NewRequest{Kind: "explode", ClusterUID: f.staging, Reason: "x"}, approvals.ErrInvalid},
		{"no reason", approvals.NewRequest{Kind: approvals.KindStop, ClusterUID: f.staging, Reason: "  "}, approvals.ErrInvalid},
		{"unknown cluster", approvals.NewRequest{Kind: approvals.KindStop, ClusterUID: "nope", Reason: "x"}, approvals.ErrNotFound},
		{"update without spec", approvals.NewRequest{Kind: approvals.KindUpdate, ClusterUID: f.staging, Reason: "x", SeenResourceVersion: &c.ResourceVersion}, approvals.ErrInvalid},
		{"update without the version its form saw", approvals.NewRequest{Kind: approvals.KindUpdate, ClusterUID: f.staging, Reason: "x", Spec: &same}, approvals.ErrInvalid},
		{"update built on an old version", approvals.NewRequest{Kind: approvals.KindUpdate, ClusterUID: f.staging, Reason: "x", Spec: &same, SeenResourceVersion: &old}, approvals.ErrStale},
		{"update that changes nothing", approvals.NewRequest{Kind: approvals.KindUpdate, ClusterUID: f.staging, Reason: "x", Spec: &same, SeenResourceVersion: &c.ResourceVersion}, approvals.ErrNoChange},
		{"invalid spec", approvals.NewRequest{Kind: approvals.KindUpdate, ClusterUID: f.staging, Reason: "x", Spec: &bad, SeenResourceVersion: &c.ResourceVersion}, approvals.ErrInvalid},
		{"stop a stopped cluster", approvals.NewRequest{Kind: approvals.KindStop, ClusterUID: f.dev, Reason: "x"}, approvals.ErrNoChange},
		{"start a running cluster", approvals.NewRequest{Kind: approvals.KindStart, ClusterUID: f.staging, Reason: "x"}, approvals.ErrNoChange},
		{"restart without a server", approvals.NewRequest{Kind: approvals.KindRestartServer, ClusterUID: f.staging, Reason: "x"}, approvals.ErrInvalid},
		{"restart of another cluster's server", approvals.NewRequest{Kind: approvals.KindRestartServer, ClusterUID: f.staging, Reason: "x", InstanceID: "i-nope"}, approvals.ErrInvalid},
		{"create without spec", approvals.NewRequest{Kind: approvals.KindCreate, Name: "x", Reason: "x"}, approvals.ErrInvalid},
		{"create without name", approvals.NewRequest{Kind: approvals.KindCreate, Reason: "x", Spec: &spec}, approvals.ErrInvalid},
		{"create with a name in use", approvals.NewRequest{Kind: approvals.KindCreate, Name: "analytics-prod", Reason: "x", Spec: &spec}, approvals.ErrConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Create(ctx, f.alice, tc.in)
			require.ErrorIs(t, err, tc.want)
		})
	}

	_, err := f.svc.Create(ctx, f.alice, approvals.NewRequest{Kind: approvals.KindUpdate, ClusterUID: f.staging,
		Reason: "x", Spec: &bad, SeenResourceVersion: &c.ResourceVersion})
	verr, ok := errors.AsType[*approvals.ValidationError](err)
	require.True(t, ok)
	require.Equal(t, approvals.Violations{{Target: "spec.deepStorage.path", Code: cloudapi.CodeMalformedValue,
		Message: "Path is not a valid s3 path"}}, verr.Violations)

	var count int
	require.NoError(t, f.pool.QueryRow(ctx, "SELECT count(*) FROM change_requests").Scan(&count))
	require.Zero(t, count, "nothing was stored")
}

func TestACreateRequestNeedsAFreeName(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	spec := newSpec()
	in := approvals.NewRequest{Kind: approvals.KindCreate, Name: "reports-dev", Reason: "reports", Spec: &spec}
	first, err := f.svc.Create(ctx, f.alice, in)
	require.NoError(t, err)
	_, err = f.svc.Create(ctx, f.bob, in)
	require.ErrorIs(t, err, approvals.ErrConflict, "another open request asks for the name")

	_, err = f.svc.Cancel(ctx, f.alice, first.ID, "")
	require.NoError(t, err)
	second, err := f.svc.Create(ctx, f.bob, in)
	require.NoError(t, err, "free again once the first is cancelled")

	// The name was taken outside the portal after filing: approval refuses.
	created, err := f.client.CreateCluster(ctx, &cloudapi.Cluster{Metadata: cloudapi.ObjectMeta{Name: "reports-dev"}, Spec: spec})
	require.NoError(t, err)
	_, err = f.syncer.Refresh(ctx, created.Metadata.UID)
	require.NoError(t, err)
	_, err = f.svc.Approve(ctx, f.carol, second.ID, approvals.Approve{Revision: 1})
	require.ErrorIs(t, err, approvals.ErrConflict)

	// Renaming it in an edit works.
	edited, err := f.svc.Edit(ctx, f.bob, second.ID, approvals.Edit{Revision: 1, Reason: "reports, renamed", Name: "reports-2-dev"})
	require.NoError(t, err)
	require.Equal(t, "reports-2-dev", edited.ClusterName)
	out, err := f.svc.Approve(ctx, f.carol, second.ID, approvals.Approve{Revision: 2})
	require.NoError(t, err)
	require.True(t, out.Completed)
}

// TestInputsCannotCarryState is the mass-assignment guard: the input types
// have no field through which a form could set what the portal decides,
// and a form posting such fields anyway changes nothing.
func TestInputsCannotCarryState(t *testing.T) {
	t.Parallel()
	forbidden := []string{"State", "Requester", "RequesterID", "Author", "AuthorID", "ID", "DiffHash", "Diff",
		"BaseResourceVersion", "BaseSpec", "Approvals", "Approved", "Risks", "Policy", "ClusterName"}
	for _, input := range []any{approvals.NewRequest{}, approvals.Edit{}, approvals.Approve{}, approvals.Reject{}} {
		typ := reflect.TypeOf(input)
		for field := range typ.Fields() {
			require.NotContains(t, forbidden, field.Name, "%s.%s", typ.Name(), field.Name)
		}
	}

	f := setup(t)
	ctx := context.Background()
	var in approvals.NewRequest
	posted := `{"Kind":"stop","ClusterUID":"` + f.staging + `","Reason":"night",
		"State":"approved","Requester":{"ID":1},"RequesterID":1,"Revision":7,"DiffHash":"00"}`
	require.NoError(t, json.Unmarshal([]byte(posted), &in))
	r, err := f.svc.Create(ctx, f.alice, in)
	require.NoError(t, err)
	require.Equal(t, approvals.StatePending, r.State)
	require.Equal(t, f.alice.UserID, r.Requester.ID)
	require.Equal(t, 1, r.Revision.Number)
}

func TestPreview(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	pending := f.update(t, f.alice, f.prod, func(s *cloudapi.ClusterSpec) { s.Query.Replicas = ptr[int32](3) })

	c := f.cluster(t, f.prod)
	spec := cloneSpec(t, c.Spec)
	spec.Query.Replicas = ptr[int32](1)
	p, err := f.svc.Preview(ctx, approvals.NewRequest{Kind: approvals.KindUpdate, ClusterUID: f.prod, Reason: "save money",
		Spec: &spec, SeenResourceVersion: &c.ResourceVersion})
	require.NoError(t, err)
	require.Equal(t, []string{"spec.query.replicas"}, p.Revision.Diff.Paths())
	require.Equal(t, []approvals.RiskCode{approvals.RiskScaleDown, approvals.RiskProduction}, p.Revision.RiskCodes())
	require.Equal(t, 2, p.Policy.ApprovalsRequired)
	require.Len(t, p.Overlaps, 1)
	require.Equal(t, pending.ID, p.Overlaps[0].Request.ID)
	require.Equal(t, []string{"spec.query.replicas"}, p.Overlaps[0].Paths)
	require.True(t, p.Overlaps[0].SameFields())

	var count int
	require.NoError(t, f.pool.QueryRow(ctx, "SELECT count(*) FROM change_requests").Scan(&count))
	require.Equal(t, 1, count, "a preview stores nothing")

	_, err = f.svc.Preview(ctx, approvals.NewRequest{Kind: approvals.KindStop, ClusterUID: f.dev, Reason: "x"})
	require.ErrorIs(t, err, approvals.ErrNoChange)
}
