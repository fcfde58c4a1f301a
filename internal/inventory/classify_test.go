package inventory_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	rules := inventory.Rules{
		Environments: mustRules(t, "^prod-|-prod$=production; -stg$=Staging"),
		Teams:        mustRules(t, "^clickstream-=web-analytics"),
		DefaultTeam:  "platform",
	}
	tags := func(kv ...string) cloudapi.ClusterSpec {
		var spec cloudapi.ClusterSpec
		for i := 0; i < len(kv); i += 2 {
			spec.AWSTags = append(spec.AWSTags, cloudapi.StringValue(kv[i], kv[i+1]))
		}
		return spec
	}
	for _, tc := range []struct {
		name, cluster   string
		spec            cloudapi.ClusterSpec
		wantEnv, wantTm string
	}{
		{"environment tag wins over the name", "orders-prod", tags("environment", "QA "), "qa", "platform"},
		{"env tag is the fallback tag", "orders-prod", tags("env", "staging"), "staging", "platform"},
		{"environment before env", "x", tags("env", "staging", "environment", "production"), "production", "platform"},
		{"tag names ignore case", "x", tags("Environment", "production", "Team", "data"), "production", "data"},
		{"name rule when no tag", "orders-prod", tags("team", "orders"), "production", "orders"},
		{"first matching name rule, lower-cased", "orders-stg", cloudapi.ClusterSpec{}, "staging", "platform"},
		{"team name rule", "clickstream-dev", cloudapi.ClusterSpec{}, "default", "web-analytics"},
		{"blank tag is no tag", "orders-prod", tags("environment", "  "), "production", "platform"},
		{"default", "something", cloudapi.ClusterSpec{}, inventory.DefaultEnvironment, "platform"},
		{"non-string tag value ignored", "x", cloudapi.ClusterSpec{AWSTags: []cloudapi.NameValue{{Name: "environment", Value: []byte(`42`)}}}, "default", "platform"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, team := rules.Classify(tc.cluster, tc.spec)
			require.Equal(t, tc.wantEnv, env)
			require.Equal(t, tc.wantTm, team)
		})
	}

	t.Run("configured tag names replace the defaults", func(t *testing.T) {
		r := inventory.Rules{EnvironmentTags: []string{"stage"}, TeamTags: []string{"owner"}}
		env, team := r.Classify("x", tags("environment", "production", "stage", "prod", "owner", "ops"))
		require.Equal(t, "prod", env)
		require.Equal(t, "ops", team)
	})
}

func TestParseNameRules(t *testing.T) {
	t.Parallel()
	rules, err := inventory.ParseNameRules("^a=b=c ;\n\n x{1,2}=y")
	require.NoError(t, err)
	require.Len(t, rules, 2)
	require.Equal(t, "^a=b", rules[0].Pattern.String(), "the last = separates")
	require.Equal(t, "c", rules[0].Value)
	require.Equal(t, regexp.MustCompile("x{1,2}").String(), rules[1].Pattern.String())

	for _, bad := range []string{"nothing", "=prod", "abc=", "a(=x"} {
		_, err := inventory.ParseNameRules(bad)
		require.Error(t, err, bad)
	}
	none, err := inventory.ParseNameRules(" ; ")
	require.NoError(t, err)
	require.Empty(t, none)
}

func mustRules(t *testing.T, s string) []inventory.NameRule {
	t.Helper()
	rules, err := inventory.ParseNameRules(s)
	require.NoError(t, err)
	return rules
}
