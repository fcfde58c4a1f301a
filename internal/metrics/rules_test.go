package metrics_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v2"
)

// The rule tests are in promtool's format (`promtool test rules`), so an
// operator can run them with their own promtool; promtool's runner lives
// in its main package, so this test drives the same parts of Prometheus it
// does: the PromQL test storage (promqltest), the rule manager and its
// alerting rules (rules), evaluated every evaluation_interval from the Unix
// epoch, the firing alerts compared at each eval_time. Only what
// alerts_test.yml uses is read; anything else is refused (strict YAML).
type ruleTestFile struct {
	RuleFiles          []string        `yaml:"rule_files"`
	EvaluationInterval model.Duration  `yaml:"evaluation_interval"`
	Tests              []ruleTestGroup `yaml:"tests"`
}

type ruleTestGroup struct {
	Name        string         `yaml:"name"`
	Interval    model.Duration `yaml:"interval"`
	InputSeries []struct {
		Series string `yaml:"series"`
		Values string `yaml:"values"`
	} `yaml:"input_series"`
	AlertRuleTests []alertTestCase `yaml:"alert_rule_test"`
}

type alertTestCase struct {
	EvalTime  model.Duration `yaml:"eval_time"`
	Alertname string         `yaml:"alertname"`
	ExpAlerts []struct {
		ExpLabels      map[string]string `yaml:"exp_labels"`
		ExpAnnotations map[string]string `yaml:"exp_annotations"`
	} `yaml:"exp_alerts"`
}

const rulesDir = "../../deploy/prometheus"

// TestAlertRules runs deploy/prometheus/alerts_test.yml against
// alerts.yml, and checks that every alert has a case where it fires and
// one where it does not.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(rulesDir, "alerts_test.yml"))
	require.NoError(t, err)
	var file ruleTestFile
	require.NoError(t, yaml.UnmarshalStrict(raw, &file))
	require.NotEmpty(t, file.Tests)
	evalInterval := time.Duration(file.EvaluationInterval)
	if evalInterval == 0 {
		evalInterval = time.Minute
	}
	var ruleFiles []string
	for _, f := range file.RuleFiles {
		ruleFiles = append(ruleFiles, filepath.Join(rulesDir, f))
	}

	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tg := range file.Tests {
		t.Run(tg.Name, func(t *testing.T) { runRuleTestGroup(t, tg, evalInterval, ruleFiles, fires, quiet) })
	}
	for _, name := range alertNames(t, ruleFiles) {
		require.True(t, fires[name], "no test where %s fires", name)
		require.True(t, quiet[name], "no test where %s stays quiet", name)
	}
}

// runRuleTestGroup evaluates the rules over tg's series and compares the
// firing alerts at each eval_time; it notes in fires the alerts a passing
// case expected to fire, in quiet those it expected not to.
func runRuleTestGroup(t *testing.T, tg ruleTestGroup, evalInterval time.Duration, ruleFiles []string, fires, quiet map[string]bool) {
	t.Helper()
	interval := time.Duration(tg.Interval)
	if interval == 0 {
		interval = evalInterval
	}
	var load strings.Builder
	fmt.Fprintf(&load, "load %s\n", model.Duration(interval))
	for _, s := range tg.InputSeries {
		fmt.Fprintf(&load, "  %s %s\n", s.Series, s.Values)
	}
	suite, err := promqltest.NewLazyLoader(load.String(), promqltest.LazyLoaderOpts{EnableAtModifier: true, EnableNegativeOffset: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = suite.Close() })
	suite.SubqueryInterval = evalInterval

	manager := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(suite.QueryEngine(), suite.Storage()),
		AppendableV2: suite.Storage(),
		Context:      context.Background(),
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {},
		Logger:       promslog.NewNopLogger(),
	})
	groups, errs := manager.LoadGroups(evalInterval, labels.EmptyLabels(), "", nil, false, ruleFiles...)
	require.Empty(t, errs)
	for _, g := range groups {
		for _, r := range g.Rules() {
			if a, ok := r.(*rules.AlertingRule); ok {
				a.SetRestored(true) // as promtool does: ALERTS series from the first evaluation
			}
		}
	}

	tests := slices.Clone(tg.AlertRuleTests)
	slices.SortStableFunc(tests, func(a, b alertTestCase) int { return int(a.EvalTime - b.EvalTime) })
	mint := time.Unix(0, 0).UTC()
	next := 0
	for ts := mint; next < len(tests); ts = ts.Add(evalInterval) {
		suite.WithSamplesTill(ts, func(err error) {
			require.NoError(t, err)
			for _, g := range groups {
				g.Eval(suite.Context(), ts)
				for _, r := range g.Rules() {
					require.NoError(t, r.LastError(), "rule %s at %s", r.Name(), ts.Sub(mint))
				}
			}
		})
		// A case at eval_time is compared with the evaluation at ts when
		// ts <= eval_time < ts + evalInterval, as promtool does.
		for next < len(tests) && time.Duration(tests[next].EvalTime) < ts.Add(evalInterval).Sub(mint) {
			tc := tests[next]
			next++
			var want, got []string
			for _, a := range tc.ExpAlerts {
				l := map[string]string{"alertname": tc.Alertname}
				for k, v := range a.ExpLabels {
					l[k] = v
				}
				want = append(want, labels.FromMap(l).String()+" "+labels.FromMap(a.ExpAnnotations).String())
			}
			for _, g := range groups {
				for _, r := range g.Rules() {
					a, ok := r.(*rules.AlertingRule)
					if !ok || a.Name() != tc.Alertname {
						continue
					}
					for _, active := range a.ActiveAlerts() {
						if active.State == rules.StateFiring {
							got = append(got, active.Labels.String()+" "+active.Annotations.String())
						}
					}
				}
			}
			slices.Sort(want)
			slices.Sort(got)
			require.Equal(t, want, got, "%s at %s", tc.Alertname, tc.EvalTime)
			if len(tc.ExpAlerts) > 0 {
				fires[tc.Alertname] = true
			} else {
				quiet[tc.Alertname] = true
			}
		}
	}
}

// alertNames are the alerts the rule files declare.
func alertNames(t *testing.T, ruleFiles []string) []string {
	t.Helper()
	var names []string
	for _, f := range ruleFiles {
		groups, errs := rules.NewManager(&rules.ManagerOptions{Logger: promslog.NewNopLogger()}).LoadGroups(time.Minute, labels.EmptyLabels(), "", nil, false, f)
		require.Empty(t, errs)
		for _, g := range groups {
			for _, r := range g.Rules() {
				if _, ok := r.(*rules.AlertingRule); ok {
					names = append(names, r.Name())
				}
			}
		}
	}
	require.NotEmpty(t, names)
	return names
}
