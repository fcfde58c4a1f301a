package metrics_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v2"
)

// Every PromQL expression shipped in deploy/ — the alerting rules and the
// Grafana dashboard's queries — parses, and names only metrics the
// portal's registry exports (a histogram's _bucket, _sum and _count
// included): a renamed metric cannot leave a silent alert or an empty
// panel behind.
func TestDeployedExpressionsUseExistingMetrics(t *testing.T) {
	t.Parallel()
	names := metricNames(t)
	exprs := map[string]string{} // where -> expression

	raw, err := os.ReadFile(filepath.Join(rulesDir, "alerts.yml"))
	require.NoError(t, err)
	var rulesFile struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &rulesFile))
	for _, g := range rulesFile.Groups {
		for _, r := range g.Rules {
			exprs["alerts.yml "+r.Alert] = r.Expr
		}
	}
	require.Len(t, exprs, 7, "the seven alerts")

	raw, err = os.ReadFile("../../deploy/grafana/clusterdesk.json")
	require.NoError(t, err)
	var dashboard map[string]any
	require.NoError(t, json.Unmarshal(raw, &dashboard))
	panels := 0
	for _, p := range dashboard["panels"].([]any) {
		panel := p.(map[string]any)
		if panel["type"] == "row" {
			continue
		}
		panels++
		targets, _ := panel["targets"].([]any)
		require.NotEmpty(t, targets, "panel %q has no query", panel["title"])
		for _, tg := range targets {
			target := tg.(map[string]any)
			expr, ok := target["expr"].(string)
			require.True(t, ok, "panel %q: a target without expr", panel["title"])
			exprs["clusterdesk.json "+panel["title"].(string)+" "+target["refId"].(string)] = expr
		}
	}
	require.Greater(t, panels, 10)

	p := parser.NewParser(parser.Options{})
	used := map[string]bool{}
	for where, expr := range exprs {
		parsed, err := p.ParseExpr(expr)
		require.NoError(t, err, "%s: %s", where, expr)
		var selectors int
		parser.Inspect(parsed, func(node parser.Node, _ []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			selectors++
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
			require.NotEmpty(t, name, "%s: a selector without a metric name: %s", where, expr)
			require.True(t, names[name], "%s: %s is not a metric of the portal", where, name)
			used[name] = true
			return nil
		})
		require.Positive(t, selectors, "%s: %s reads no metric", where, expr)
	}
	// The test itself can fail: a made-up name is refused.
	require.False(t, names["clusterdesk_no_such_metric_total"])
	require.True(t, used["clusterdesk_submissions_total"])
}
