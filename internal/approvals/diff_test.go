package approvals_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

func spec(t *testing.T, doc string) *cloudapi.ClusterSpec {
	t.Helper()
	if doc == "" {
		return nil
	}
	var s cloudapi.ClusterSpec
	require.NoError(t, json.Unmarshal([]byte(doc), &s))
	return &s
}

// change builds an expected Change; "" means absent.
func change(path, before, after string) approvals.Change {
	c := approvals.Change{Path: path}
	if before != "" {
		c.Before = json.RawMessage(before)
	}
	if after != "" {
		c.After = json.RawMessage(after)
	}
	return c
}

func TestDiffSpecs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		before, after string
		want          approvals.Diff
	}{
		{
			name:   "unchanged",
			before: `{"version":"2024.01","master":{"replicas":3}}`,
			after:  `{"master":{"replicas":3},"version":"2024.01"}`,
			want:   nil,
		},
		{
			name:   "scalar change, deep path",
			before: `{"data":{"tier1":{"replicas":4,"instanceType":"i3.2xlarge"}}}`,
			after:  `{"data":{"tier1":{"replicas":2,"instanceType":"i3.2xlarge"}}}`,
			want:   approvals.Diff{change("spec.data.tier1.replicas", `4`, `2`)},
		},
		{
			name:   "a new tier is listed leaf by leaf, a removed one too",
			before: `{"data":{"tier1":{"replicas":1},"tier3":{"replicas":2,"instanceType":"d3.xlarge"}}}`,
			after:  `{"data":{"tier1":{"replicas":1},"tier2":{"replicas":2,"instanceType":"d3.xlarge"}}}`,
			want: approvals.Diff{
				change("spec.data.tier2.replicas", ``, `2`),
				change("spec.data.tier2.instanceType", ``, `"d3.xlarge"`),
				change("spec.data.tier3.replicas", `2`, ``),
				change("spec.data.tier3.instanceType", `"d3.xlarge"`, ``),
			},
		},
		{
			name:   "runtime properties are matched by name and show their values",
			before: `{"commonRuntimeProperties":[{"name":"a","value":"1"},{"name":"b","value":"2"},{"name":"c","value":{"x":1}}]}`,
			after:  `{"commonRuntimeProperties":[{"name":"c","value":{"x":2}},{"name":"a","value":"1"},{"name":"d","value":"4"}]}`,
			want: approvals.Diff{
				change(`spec.commonRuntimeProperties["c"]`, `{"x":1}`, `{"x":2}`),
				change(`spec.commonRuntimeProperties["d"]`, ``, `"4"`),
				change(`spec.commonRuntimeProperties["b"]`, `"2"`, ``),
			},
		},
		{
			name:   "tags are named items too",
			before: `{"awsTags":[{"name":"team","value":"data"}]}`,
			after:  `{"awsTags":[{"name":"team","value":"web"},{"name":"env","value":"prod"}]}`,
			want: approvals.Diff{
				change(`spec.awsTags["team"]`, `"data"`, `"web"`),
				change(`spec.awsTags["env"]`, ``, `"prod"`),
			},
		},
		{
			name:   "custom files are matched by path; other members by name",
			before: `{"customFiles":[{"path":"s3://b/init.sh","type":"USER","executable":false},{"path":"s3://b/gone"}]}`,
			after:  `{"customFiles":[{"path":"s3://b/init.sh","type":"USER","executable":true}]}`,
			want: approvals.Diff{
				change(`spec.customFiles["s3://b/init.sh"].executable`, `false`, `true`),
				change(`spec.customFiles["s3://b/gone"]`, `{"path":"s3://b/gone"}`, ``),
			},
		},
		{
			name:   "plain lists change whole",
			before: `{"druidExtensions":["a","b"]}`,
			after:  `{"druidExtensions":["a","b","c"]}`,
			want:   approvals.Diff{change("spec.druidExtensions", `["a","b"]`, `["a","b","c"]`)},
		},
		{
			name:   "a named item whose members change",
			before: `{"customDruidExtensions":[{"name":"geo","path":"s3://ext/geo-1"}]}`,
			after:  `{"customDruidExtensions":[{"name":"geo","path":"s3://ext/geo-2"}]}`,
			want:   approvals.Diff{change(`spec.customDruidExtensions["geo"].path`, `"s3://ext/geo-1"`, `"s3://ext/geo-2"`)},
		},
		{
			name:   "objects without a distinct name are compared by position",
			before: `{"things":[{"a":1},{"a":2}]}`,
			after:  `{"things":[{"a":1},{"a":3},{"a":4}]}`,
			want: approvals.Diff{
				change("spec.things[1].a", `2`, `3`),
				change("spec.things[2].a", ``, `4`),
			},
		},
		{
			name:   "numbers compare by value; null is absent",
			before: `{"master":{"replicas":3,"instanceType":null},"future":{"n":3,"gone":null}}`,
			after:  `{"master":{"replicas":3},"future":{"n":3.0}}`,
			want:   nil,
		},
		{
			name:   "unknown members are diffed too, quoted when not identifiers",
			before: `{"futureThing":{"a.b":1}}`,
			after:  `{"futureThing":{"a.b":2}}`,
			want:   approvals.Diff{change(`spec.futureThing["a.b"]`, `1`, `2`)},
		},
		{
			name:  "no base: everything is added, in the proposal's order",
			after: `{"version":"2024.01","master":{"replicas":1,"instanceType":"t3.medium"},"deepStorage":{"path":"s3://x"}}`,
			want: approvals.Diff{
				change("spec.version", ``, `"2024.01"`),
				change("spec.master.replicas", ``, `1`),
				change("spec.master.instanceType", ``, `"t3.medium"`),
				change("spec.deepStorage.path", ``, `"s3://x"`),
			},
		},
		{
			name:   "no proposal: everything is removed",
			before: `{"version":"2024.01"}`,
			want:   approvals.Diff{change("spec.version", `"2024.01"`, ``)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := approvals.DiffSpecs(spec(t, tc.before), spec(t, tc.after))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDiffHelpers(t *testing.T) {
	t.Parallel()
	d, err := approvals.DiffSpecs(spec(t, `{"version":"1","encryptVolumes":true}`), spec(t, `{"version":"2"}`))
	require.NoError(t, err)
	require.Equal(t, []string{"spec.version", "spec.encryptVolumes"}, d.Paths())
	c, ok := d.Find("spec.encryptVolumes")
	require.True(t, ok)
	require.True(t, c.Removed())
	require.False(t, c.Added())
	_, ok = d.Find("spec.nothing")
	require.False(t, ok)

	raw, err := json.Marshal(d)
	require.NoError(t, err)
	require.JSONEq(t, `[{"path":"spec.version","before":"1","after":"2"},{"path":"spec.encryptVolumes","before":true}]`, string(raw))
}
