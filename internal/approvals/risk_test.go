package approvals_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

func TestRisks(t *testing.T) {
	t.Parallel()
	type hint struct {
		code  approvals.RiskCode
		words []string // the message says these
		paths []string
	}
	for _, tc := range []struct {
		name          string
		kind          approvals.Kind
		before, after string
		payload       approvals.Payload
		envs          []string
		want          []hint
	}{
		{
			name: "no risk", kind: approvals.KindUpdate,
			before: `{"awsTags":[{"name":"team","value":"a"}]}`, after: `{"awsTags":[{"name":"team","value":"b"}]}`,
		},
		{
			name: "fewer replicas", kind: approvals.KindUpdate,
			before: `{"data":{"tier1":{"replicas":4}},"query":{"replicas":2}}`,
			after:  `{"data":{"tier1":{"replicas":2}},"query":{"replicas":1}}`,
			want: []hint{{approvals.RiskScaleDown, []string{"Fewer servers", "spec.data.tier1.replicas goes from 4 to 2", "spec.query.replicas goes from 2 to 1"},
				[]string{"spec.query.replicas", "spec.data.tier1.replicas"}}},
		},
		{
			name: "more replicas is no risk", kind: approvals.KindUpdate,
			before: `{"master":{"replicas":1}}`, after: `{"master":{"replicas":3}}`,
		},
		{
			name: "a removed tier is a scale-down", kind: approvals.KindUpdate,
			before: `{"data":{"tier2":{"replicas":2}}}`, after: `{"data":{}}`,
			want: []hint{{approvals.RiskScaleDown, []string{"spec.data.tier2 (2 servers) is removed"}, []string{"spec.data.tier2.replicas"}}},
		},
		{
			name: "instance type", kind: approvals.KindUpdate,
			before: `{"master":{"instanceType":"m5.large"}}`, after: `{"master":{"instanceType":"m5.xlarge"}}`,
			want: []hint{{approvals.RiskInstanceType, []string{"hard update", "m5.large to m5.xlarge", "replaced"}, []string{"spec.master.instanceType"}}},
		},
		{
			name: "Imply version", kind: approvals.KindUpdate,
			before: `{"version":"2023.10"}`, after: `{"version":"2024.01"}`,
			want: []hint{{approvals.RiskVersion, []string{"Imply version change from 2023.10 to 2024.01"}, []string{"spec.version"}}},
		},
		{
			name: "deep storage", kind: approvals.KindUpdate,
			before: `{"deepStorage":{"path":"s3://a/x"}}`, after: `{"deepStorage":{"path":"s3://b/x"}}`,
			want: []hint{{approvals.RiskDeepStorage, []string{"Deep storage change", "s3://a/x to s3://b/x"}, []string{"spec.deepStorage.path"}}},
		},
		{
			name: "encryption of volumes, segments and metadata", kind: approvals.KindUpdate,
			before: `{"encryptVolumes":true,"deepStorage":{"path":"s3://a","encrypt":true}}`,
			after:  `{"deepStorage":{"path":"s3://a","encrypt":false},"metadataStore":{"encrypt":true}}`,
			want: []hint{{approvals.RiskEncryption, []string{"Encryption change", "spec.encryptVolumes goes from true to none"},
				[]string{"spec.deepStorage.encrypt", "spec.metadataStore.encrypt", "spec.encryptVolumes"}}},
		},
		{
			name: "stop", kind: approvals.KindStop,
			before: `{"desiredState":"STARTED"}`, after: `{"desiredState":"STOPPED"}`,
			want: []hint{{approvals.RiskStop, []string{"Stops the cluster"}, nil}},
		},
		{
			name: "an update that stops", kind: approvals.KindUpdate,
			before: `{"desiredState":"STARTED"}`, after: `{"desiredState":"STOPPED"}`,
			want: []hint{{approvals.RiskStop, []string{"Stops the cluster"}, []string{"spec.desiredState"}}},
		},
		{
			name: "a hard update, from the payload, first of the change hints", kind: approvals.KindUpdate,
			before: `{"version":"2023.10","awsTags":[]}`, after: `{"version":"2024.01","awsTags":[{"name":"a","value":"b"}]}`,
			payload: approvals.Payload{HardUpdate: true},
			want: []hint{
				{approvals.RiskHardUpdate, []string{"Hard update", "every affected server restarts at once", "downtime"}, []string{"spec.version"}},
				{approvals.RiskVersion, nil, []string{"spec.version"}},
			},
		},
		{
			name: "a hard update of a replace that changes no restarting field", kind: approvals.KindReplace,
			before: `{"awsKeyPair":"a"}`, after: `{"awsKeyPair":"b"}`, payload: approvals.Payload{HardUpdate: true},
			want: []hint{{approvals.RiskHardUpdate, []string{"downtime"}, nil}},
		},
		{
			name: "delete in production", kind: approvals.KindDelete, envs: []string{"production"},
			want: []hint{
				{approvals.RiskDelete, []string{"Deletes the cluster", "cannot be undone"}, nil},
				{approvals.RiskProduction, []string{"Production environment"}, nil},
			},
		},
		{
			name: "a create has no change hints, but can be production", kind: approvals.KindCreate,
			after: `{"version":"2024.01","master":{"instanceType":"m5.large"}}`, envs: []string{"staging", "production"},
			want: []hint{{approvals.RiskProduction, []string{"production cluster"}, nil}},
		},
		{
			name: "several at once, in display order", kind: approvals.KindUpdate, envs: []string{"production"},
			before: `{"version":"1","query":{"replicas":3,"instanceType":"c5.large"}}`,
			after:  `{"version":"2","query":{"replicas":2,"instanceType":"c5.xlarge"}}`,
			want: []hint{
				{approvals.RiskScaleDown, nil, []string{"spec.query.replicas"}},
				{approvals.RiskInstanceType, nil, []string{"spec.query.instanceType"}},
				{approvals.RiskVersion, nil, []string{"spec.version"}},
				{approvals.RiskProduction, nil, nil},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := approvals.DiffSpecs(spec(t, tc.before), spec(t, tc.after))
			require.NoError(t, err)
			got := approvals.Risks(tc.kind, d, tc.payload, tc.envs)
			require.Len(t, got, len(tc.want), "%+v", got)
			for i, w := range tc.want {
				require.Equal(t, w.code, got[i].Code)
				require.ElementsMatch(t, w.paths, got[i].Paths)
				require.NotEmpty(t, got[i].Message, "a hint always says its risk in words")
				for _, word := range w.words {
					require.Contains(t, got[i].Message, word)
				}
			}
		})
	}
}
