package approvals_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

// TestEveryAPITargetHasAFormField fails when the simulator (and so the API
// as we know it) can name a field in a 400 that no form input shows.
func TestEveryAPITargetHasAFormField(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, f := range approvals.FormFields() {
		require.False(t, names[f.Name], "field %s listed twice", f.Name)
		names[f.Name] = true
		require.NotEmpty(t, f.Label, f.Name)
		require.NotEmpty(t, f.Section, f.Name)
	}
	for _, target := range sim.ValidationTargets() {
		field, ok := approvals.FieldForTarget(target)
		require.True(t, ok, "API target %s has no form field", target)
		require.True(t, names[field], "API target %s maps to %s, which is not a form field", target, field)
	}
}

func TestFieldForTarget(t *testing.T) {
	t.Parallel()
	for target, want := range map[string]string{
		"spec.deepStorage.path":                       "deep_storage_path",
		"metadata.name":                               "name",
		"spec.data.tier2.instanceType":                "data_tier2_instance_type",
		"spec.awsTags[3].value":                       "aws_tags",
		`spec.commonRuntimeProperties["druid.x"]`:     "common_runtime_properties",
		`spec.master.coordinatorRuntimeProperties[0]`: "master_coordinator_runtime_properties",
	} {
		got, ok := approvals.FieldForTarget(target)
		require.True(t, ok, target)
		require.Equal(t, want, got, target)
	}
	for _, target := range []string{"", "spec.somethingNew", "status.state", "[0]"} {
		_, ok := approvals.FieldForTarget(target)
		require.False(t, ok, target)
	}

	placed := approvals.Violations{
		{Target: "spec.deepStorage.path", Message: "bad path"},
		{Target: "spec.somethingNew", Message: "new rule"},
		{Message: "whole request"},
		{Target: "spec.deepStorage.path", Message: "second"},
	}.Place()
	require.Len(t, placed.Fields["deep_storage_path"], 2)
	require.Equal(t, []string{"new rule", "whole request"}, []string{placed.Top[0].Message, placed.Top[1].Message})
}

func TestValidateSpec(t *testing.T) {
	t.Parallel()
	type want struct {
		target string
		code   cloudapi.ErrorCode
	}
	for _, tc := range []struct {
		name string
		edit func(*cloudapi.ClusterSpec)
		want []want
	}{
		{"valid", func(*cloudapi.ClusterSpec) {}, nil},
		{"required sections", func(s *cloudapi.ClusterSpec) {
			*s = cloudapi.ClusterSpec{}
		}, []want{{"spec.version", cloudapi.CodeNullValue}, {"spec.awsInstanceRole", cloudapi.CodeNullValue},
			{"spec.master", cloudapi.CodeNullValue}, {"spec.query", cloudapi.CodeNullValue}, {"spec.data", cloudapi.CodeNullValue},
			{"spec.deepStorage", cloudapi.CodeNullValue}}},
		{"tier 1 and the deep storage path", func(s *cloudapi.ClusterSpec) {
			s.Data.Tier1 = nil
			s.DeepStorage.Path = ""
		}, []want{{"spec.data.tier1", cloudapi.CodeNullValue}, {"spec.deepStorage.path", cloudapi.CodeNullValue}}},
		{"formats", func(s *cloudapi.ClusterSpec) {
			s.DeepStorage.Path = "s3:/bucket"
			s.Query.InstanceType = "big"
			s.MetadataStore = &cloudapi.MetadataStore{InstanceType: "t3.small"}
		}, []want{{"spec.query.instanceType", cloudapi.CodeMalformedValue},
			{"spec.metadataStore.instanceType", cloudapi.CodeMalformedValue}, {"spec.deepStorage.path", cloudapi.CodeMalformedValue}}},
		{"ranges", func(s *cloudapi.ClusterSpec) {
			s.Master.Replicas = ptr[int32](2)
			s.Data.Tier1.Replicas = ptr[int32](0)
			s.MetadataStore = &cloudapi.MetadataStore{DiskSize: ptr[int32](10), BackupRetention: ptr[int32](40)}
		}, []want{{"spec.master.replicas", cloudapi.CodeMalformedValue}, {"spec.data.tier1.replicas", cloudapi.CodeMalformedValue},
			{"spec.metadataStore.diskSize", cloudapi.CodeMalformedValue}, {"spec.metadataStore.backupRetention", cloudapi.CodeMalformedValue}}},
		{"enumerations", func(s *cloudapi.ClusterSpec) {
			s.DesiredState = "PAUSED"
			s.Pivot = &cloudapi.PivotAccess{AccessMode: "MAGIC"}
		}, []want{{"spec.desiredState", cloudapi.CodeMalformedValue}, {"spec.pivot.accessMode", cloudapi.CodeMalformedValue}}},
		{"pivot's dependent fields", func(s *cloudapi.ClusterSpec) {
			s.Pivot = &cloudapi.PivotAccess{AccessMode: cloudapi.AccessOIDC}
		}, []want{{"spec.pivot.roleAuthority", cloudapi.CodeNullValue}, {"spec.pivot.options", cloudapi.CodeNullValue}}},
		{"pivot fields not allowed when proxied", func(s *cloudapi.ClusterSpec) {
			s.Pivot = &cloudapi.PivotAccess{AccessMode: cloudapi.AccessProxied, URL: "https://x", RoleAuthority: "NATIVE", Options: "x"}
		}, []want{{"spec.pivot.url", cloudapi.CodeMalformedValue}, {"spec.pivot.roleAuthority", cloudapi.CodeMalformedValue},
			{"spec.pivot.options", cloudapi.CodeMalformedValue}}},
		{"named lists", func(s *cloudapi.ClusterSpec) {
			s.AWSTags = []cloudapi.NameValue{cloudapi.StringValue("team", "a"), cloudapi.StringValue("team", "b")}
			s.Data.Tier1.HistoricalRuntimeProperties = []cloudapi.NameValue{cloudapi.StringValue(" ", "x")}
		}, []want{{"spec.awsTags", cloudapi.CodeMalformedValue}, {"spec.data.tier1.historicalRuntimeProperties", cloudapi.CodeMalformedValue}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSpec()
			tc.edit(&s)
			var got []want
			for _, v := range approvals.ValidateSpec(s) {
				got = append(got, want{v.Target, v.Code})
				require.NotEmpty(t, v.Message)
				_, ok := approvals.FieldForTarget(v.Target)
				require.True(t, ok, "local rule target %s has a form field", v.Target)
			}
			require.ElementsMatch(t, tc.want, got)
		})
	}

	vs := approvals.ValidateCreate(" ", newSpec())
	require.Equal(t, approvals.Violations{{Target: "metadata.name", Code: cloudapi.CodeNullValue, Message: "Cluster name must not be empty"}}, vs)
}

// newSimClient is a simulator on a real HTTP server and a client for it.
func newSimClient(t *testing.T) (*sim.Server, *cloudapi.Client) {
	t.Helper()
	s, err := sim.New(sim.Config{SeedDemo: true, StageDuration: 2 * time.Millisecond})
	require.NoError(t, err)
	server := httptest.NewServer(s)
	t.Cleanup(func() {
		server.Close()
		require.NoError(t, s.Close())
	})
	client, err := cloudapi.New(cloudapi.Config{
		BaseURL: s.APIURL(server.URL), TokenURL: s.TokenURL(server.URL),
		ClientID: "clusterdesk", ClientSecret: "clusterdesk-sim-secret",
		Retry: cloudapi.RetryPolicy{MaxAttempts: 1},
	})
	require.NoError(t, err)
	return s, client
}

func TestDryRunAndCheckAgainstTheAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, client := newSimClient(t)

	good := newSpec()
	vs, err := approvals.DryRun(ctx, client, approvals.Proposal{Kind: approvals.KindCreate, Name: "fresh", Proposed: &good})
	require.NoError(t, err)
	require.Empty(t, vs)

	bad := newSpec()
	bad.DeepStorage.Path = "/not/s3"
	bad.Master.Replicas = ptr[int32](2)
	vs, err = approvals.DryRun(ctx, client, approvals.Proposal{Kind: approvals.KindCreate, Name: "fresh", Proposed: &bad})
	require.NoError(t, err)
	placed := vs.Place()
	require.Equal(t, "Path is not a valid s3 path", placed.Fields["deep_storage_path"][0].Message, "the API's own message")
	require.Equal(t, cloudapi.CodeMalformedValue, placed.Fields["deep_storage_path"][0].Code)
	require.NotEmpty(t, placed.Fields["master_replicas"])
	require.Empty(t, placed.Top)

	for _, c := range s.Calls() {
		require.False(t, c.Mutated, "a dry run changes nothing: %s %s", c.Method, c.Path)
	}

	// An update is checked as the merge patch it will send.
	clusters, err := client.ListClusters(ctx)
	require.NoError(t, err)
	var staging cloudapi.Cluster
	for _, c := range clusters {
		if c.Metadata.Name == "analytics-staging" {
			staging = c
		}
	}
	proposed := staging.Spec
	proposed.Data = &cloudapi.DataConfig{Tier1: &cloudapi.DataTier{Replicas: ptr[int32](0), InstanceType: "m5d.xlarge"}}
	vs, err = approvals.DryRun(ctx, client, approvals.Proposal{Kind: approvals.KindUpdate, ClusterUID: staging.Metadata.UID,
		Base: &staging.Spec, Proposed: &proposed})
	require.NoError(t, err)
	require.Equal(t, "spec.data.tier1.replicas", vs[0].Target)

	// Check merges: the API's word for the targets it names, local rules
	// for the rest (here the API reports only the path; a blank name is
	// caught by both and reported once).
	vs, err = approvals.Check(ctx, client, approvals.Proposal{Kind: approvals.KindCreate, Name: "fresh", Proposed: &bad})
	require.NoError(t, err)
	targets := map[string]int{}
	for _, v := range vs {
		targets[v.Target]++
	}
	require.Equal(t, 1, targets["spec.deepStorage.path"])
	require.Equal(t, 1, targets["spec.master.replicas"])

	nothing, err := approvals.DryRun(ctx, client, approvals.Proposal{Kind: approvals.KindDelete, ClusterUID: staging.Metadata.UID})
	require.NoError(t, err)
	require.Empty(t, nothing)

	// When the API cannot be asked, Check still returns the local
	// violations, with the error.
	s.InjectFault(sim.Fault{Status: 503})
	vs, err = approvals.Check(ctx, client, approvals.Proposal{Kind: approvals.KindCreate, Name: "fresh", Proposed: &bad})
	require.Error(t, err)
	require.True(t, cloudapi.IsRetryable(err))
	require.NotEmpty(t, vs)
	require.Equal(t, "spec.deepStorage.path", vs.Place().Fields["deep_storage_path"][0].Target)
}

func TestDryRunOfAFiledRequest(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	tags := f.update(t, f.alice, f.staging, func(s *cloudapi.ClusterSpec) {
		s.AWSTags = append(s.AWSTags, cloudapi.StringValue("owner", "ops"))
	})
	vs, err := approvals.DryRun(ctx, f.client, approvals.ProposalOf(tags))
	require.NoError(t, err)
	require.Empty(t, vs)

	// A change that restarts the servers of a cluster with one master
	// needs a hard update: the API says so about the whole spec, which the
	// JSON editor shows.
	keyPair := f.update(t, f.alice, f.staging, func(s *cloudapi.ClusterSpec) { s.AWSKeyPair = "ops" })
	vs, err = approvals.DryRun(ctx, f.client, approvals.ProposalOf(keyPair))
	require.NoError(t, err)
	require.Len(t, vs, 1)
	require.Equal(t, "spec", vs[0].Target, "no version or instance type changes: the API's target stays")
	require.True(t, vs[0].NeedsHardUpdate)
	require.Contains(t, vs[0].Message, "force=true")
	require.Contains(t, vs.Place().Fields, "spec_json")
}
