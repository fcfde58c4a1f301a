package sim

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

func TestValidation(t *testing.T) {
	t.Parallel()
	null, malformed := cloudapi.CodeNullValue, cloudapi.CodeMalformedValue
	for _, tc := range []struct {
		patch  string // merge patch applied to minimalCluster
		target string
		code   cloudapi.ErrorCode
		rule   Rule // documented rules cannot be switched off
	}{
		{`{"metadata":null}`, "metadata", null, documented},
		{`{"metadata":{"name":null}}`, "metadata.name", null, documented},
		{`{"metadata":{"name":5}}`, "metadata.name", malformed, documented},
		{`{"metadata":{"name":" "}}`, "metadata.name", malformed, RuleNameNotEmpty},
		{`{"spec":null}`, "spec", null, documented},
		{`{"spec":{"version":null}}`, "spec.version", null, RuleRequiredSections},
		{`{"spec":{"version":""}}`, "spec.version", malformed, RuleVersionNotEmpty},
		{`{"spec":{"desiredState":"PAUSED"}}`, "spec.desiredState", malformed, documented},
		{`{"spec":{"awsInstanceRole":null}}`, "spec.awsInstanceRole", null, RuleRequiredSections},
		{`{"spec":{"encryptVolumes":"yes"}}`, "spec.encryptVolumes", malformed, documented},
		{`{"spec":{"awsTags":[{"value":1}]}}`, "spec.awsTags", malformed, documented},
		{`{"spec":{"featureFlags":[1]}}`, "spec.featureFlags", malformed, documented},
		{`{"spec":{"customFiles":"x"}}`, "spec.customFiles", malformed, documented},
		{`{"spec":{"master":null}}`, "spec.master", null, RuleRequiredSections},
		{`{"spec":{"master":{"replicas":2}}}`, "spec.master.replicas", malformed, RuleMasterHA},
		{`{"spec":{"master":{"replicas":0}}}`, "spec.master.replicas", malformed, RuleReplicasMin},
		{`{"spec":{"query":{"replicas":1.5}}}`, "spec.query.replicas", malformed, documented},
		{`{"spec":{"query":{"instanceType":"huge"}}}`, "spec.query.instanceType", malformed, RuleInstanceTypeFormat},
		{`{"spec":{"data":{"tier1":null}}}`, "spec.data.tier1", null, RuleRequiredSections},
		{`{"spec":{"data":{"tier3":{"replicas":0}}}}`, "spec.data.tier3.replicas", malformed, RuleReplicasMin},
		{`{"spec":{"metadataStore":{"diskSize":10}}}`, "spec.metadataStore.diskSize", malformed, RuleDiskSizeMin},
		{`{"spec":{"metadataStore":{"backupRetention":36}}}`, "spec.metadataStore.backupRetention", malformed, RuleBackupRetention},
		{`{"spec":{"metadataStore":{"instanceType":"t3.small"}}}`, "spec.metadataStore.instanceType", malformed, RuleInstanceTypeFormat},
		{`{"spec":{"deepStorage":{"path":"gs://bucket"}}}`, "spec.deepStorage.path", malformed, documented},
		{`{"spec":{"deepStorage":{"path":"s3:///no-bucket"}}}`, "spec.deepStorage.path", malformed, RuleS3PathPattern},
		{`{"spec":{"deepStorage":{"path":null}}}`, "spec.deepStorage.path", null, RuleRequiredSections},
		{`{"spec":{"pivot":{"accessMode":null}}}`, "spec.pivot.accessMode", null, documented},
		{`{"spec":{"pivot":{"accessMode":"SAML"}}}`, "spec.pivot.accessMode", malformed, documented},
		{`{"spec":{"pivot":{"url":"https://pivot"}}}`, "spec.pivot.url", malformed, documented},
		{`{"spec":{"pivot":{"accessMode":"LDAP","options":"x"}}}`, "spec.pivot.roleAuthority", null, documented},
		{`{"spec":{"pivot":{"accessMode":"OIDC","roleAuthority":"NATIVE"}}}`, "spec.pivot.options", null, documented},
		{`{"spec":{"pivot":{"roleAuthority":"NATIVE"}}}`, "spec.pivot.roleAuthority", malformed, documented},
		{`{"spec":{"pivot":{"options":"x"}}}`, "spec.pivot.options", malformed, documented},
		{`{"spec":{"pivot":{"accessMode":"OIDC","roleAuthority":"BOSS","options":"x"}}}`, "spec.pivot.roleAuthority", malformed, documented},
	} {
		t.Run(tc.patch, func(t *testing.T) {
			doc := patched(t, minimalCluster, tc.patch)
			details := newServer(t, Config{}).validate(doc)
			require.Len(t, details, 1, "%v", details)
			require.Equal(t, tc.target, details[0].Target)
			require.Equal(t, tc.code, details[0].Code)
			require.NotEmpty(t, details[0].Message)
			require.Contains(t, ValidationTargets(), details[0].Target)

			if tc.rule != documented {
				off := newServer(t, Config{DisabledRules: []Rule{tc.rule}})
				require.Empty(t, off.validate(doc), "rule %s is switched off", tc.rule)
			}
		})
	}
}

func TestValidationAcceptsWhatItDoesNotKnow(t *testing.T) {
	t.Parallel()
	s := newServer(t, Config{})
	require.Empty(t, s.validate(patched(t, minimalCluster, `{"spec":{"autoscaling":{"max":3},"master":{"diskSize":64}},"kind":"Cluster"}`)))
	require.Empty(t, s.validate(patched(t, minimalCluster, `{"spec":{"pivot":{"accessMode":"OIDC","roleAuthority":"EXTERNAL","options":"issuer: x","url":"https://p"}}}`)))
}

func TestValidationTargets(t *testing.T) {
	t.Parallel()
	targets := ValidationTargets()
	require.True(t, slices.IsSorted(targets))
	require.Equal(t, len(targets), len(slices.Compact(slices.Clone(targets))), "no duplicates")
	for _, documentedTarget := range []string{"metadata.name", "spec.deepStorage.path", "spec.pivot.accessMode"} {
		require.Contains(t, targets, documentedTarget)
	}
	for _, g := range groups {
		require.Contains(t, targets, g.specPath(), "the hard-update refusal names a group")
	}
}

func newServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// patched applies a merge patch to a document and decodes the result.
func patched(t *testing.T, doc, patch string) map[string]any {
	t.Helper()
	merged, err := cloudapi.ApplyMergePatch([]byte(doc), []byte(patch))
	require.NoError(t, err)
	out, err := decodeDocument(merged)
	require.NoError(t, err)
	return out
}
