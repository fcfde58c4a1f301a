package approvals_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// specOfSize is newSpec with one common runtime property padded so that
// the spec is exactly size bytes of JSON.
func specOfSize(t *testing.T, size int) cloudapi.ClusterSpec {
	t.Helper()
	spec := newSpec()
	spec.CommonRuntimeProperties = []cloudapi.NameValue{{Name: "druid.padding", Value: json.RawMessage(`""`)}}
	raw, err := json.Marshal(spec)
	require.NoError(t, err)
	require.Less(t, len(raw), size)
	spec.CommonRuntimeProperties[0].Value = json.RawMessage(`"` + strings.Repeat("x", size-len(raw)) + `"`)
	raw, err = json.Marshal(spec)
	require.NoError(t, err)
	require.Len(t, raw, size)
	return spec
}

// TestSpecSizeLimit: a spec of at most MaxSpecBytes of JSON passes; one
// byte more, or a flood of custom files or runtime properties, is one
// violation at "spec" that says the limit, and nothing else is reported.
func TestSpecSizeLimit(t *testing.T) {
	t.Parallel()
	require.Equal(t, 256<<10, approvals.MaxSpecBytes)

	manyFiles := newSpec()
	for i := range 20_000 {
		manyFiles.CustomFiles = append(manyFiles.CustomFiles, cloudapi.CustomFile{Path: fmt.Sprintf("s3://acme/files/%05d.jar", i), Type: "DRUID_EXTENSION"})
	}
	unnamedProperties := newSpec() // each would be its own "no name" violation
	for range 20_000 {
		unnamedProperties.Master = &cloudapi.MasterConfig{Replicas: unnamedProperties.Master.Replicas, InstanceType: "t3.medium",
			CoordinatorRuntimeProperties: append(unnamedProperties.Master.CoordinatorRuntimeProperties, cloudapi.NameValue{Value: json.RawMessage(`"v"`)})}
	}

	tests := []struct {
		name    string
		spec    cloudapi.ClusterSpec
		tooBig  bool
		message string
	}{
		{"a normal spec", newSpec(), false, ""},
		{"exactly the limit", specOfSize(t, approvals.MaxSpecBytes), false, ""},
		{"one byte over", specOfSize(t, approvals.MaxSpecBytes+1), true, "The specification is 257 KiB of JSON; the portal accepts at most 256 KiB"},
		{"many custom files", manyFiles, true, ""},
		{"many unnamed runtime properties", unnamedProperties, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, vs := range []approvals.Violations{approvals.ValidateSpec(tt.spec), approvals.ValidateCreate("acme-dev", tt.spec)} {
				if !tt.tooBig {
					require.Empty(t, vs)
					continue
				}
				require.Len(t, vs, 1, "only the size is reported: %v", vs)
				require.Equal(t, "spec", vs[0].Target)
				require.Equal(t, cloudapi.CodeMalformedValue, vs[0].Code)
				require.Contains(t, vs[0].Message, "at most 256 KiB")
				if tt.message != "" {
					require.Equal(t, tt.message, vs[0].Message)
				}
			}
		})
	}
	field, _ := approvals.FieldForTarget("spec")
	require.Equal(t, "spec_json", field, "the size is shown at the JSON field (or, without it, at the top of the form)")
}
