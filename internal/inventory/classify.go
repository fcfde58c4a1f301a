package inventory

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// DefaultEnvironment is the environment of a cluster that neither a tag
// nor a name rule places.
const DefaultEnvironment = "default"

// Rules derive a cluster's environment and owning team. The zero value
// reads the default tags and has no name rules.
type Rules struct {
	// EnvironmentTags are the awsTags names that carry the environment,
	// in order of preference. Nil means "environment", then "env".
	EnvironmentTags []string
	// TeamTags are the awsTags names that carry the owning team. Nil
	// means "team".
	TeamTags []string
	// Environments place clusters that have no environment tag, by name:
	// the first rule whose pattern matches gives the environment.
	Environments []NameRule
	// Teams do the same for the owning team.
	Teams []NameRule
	// DefaultTeam owns clusters that neither a tag nor a rule places; it
	// may be empty (no owner).
	DefaultTeam string
}

// NameRule maps cluster names matching Pattern to Value.
type NameRule struct {
	Pattern *regexp.Regexp
	Value   string
}

// Classify returns the environment and owning team of a cluster named name
// with spec. Environments are lower-cased and trimmed, so tags "Production"
// and "production " both give "production"; teams are trimmed only.
func (r Rules) Classify(name string, spec cloudapi.ClusterSpec) (environment, team string) {
	environment = strings.ToLower(strings.TrimSpace(firstTag(spec.AWSTags, orDefault(r.EnvironmentTags, "environment", "env"))))
	if environment == "" {
		environment = strings.ToLower(strings.TrimSpace(matchName(r.Environments, name)))
	}
	if environment == "" {
		environment = DefaultEnvironment
	}
	team = strings.TrimSpace(firstTag(spec.AWSTags, orDefault(r.TeamTags, "team")))
	if team == "" {
		team = strings.TrimSpace(matchName(r.Teams, name))
	}
	if team == "" {
		team = r.DefaultTeam
	}
	return environment, team
}

// ParseNameRules reads rules written as "PATTERN=VALUE" separated by
// semicolons or new lines, e.g. "^prod-|-prod$=production; -dev$=development".
// The last "=" of each rule separates the pattern (a Go regexp) from the
// value. Empty rules are skipped. Errors: a rule without "=", an empty
// value or pattern, or a pattern that does not compile.
func ParseNameRules(s string) ([]NameRule, error) {
	var rules []NameRule
	for raw := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ';' || r == '\n' }) {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		i := strings.LastIndexByte(raw, '=')
		if i < 0 {
			return nil, fmt.Errorf("inventory: name rule %q: want PATTERN=VALUE", raw)
		}
		pattern, value := strings.TrimSpace(raw[:i]), strings.TrimSpace(raw[i+1:])
		if pattern == "" || value == "" {
			return nil, fmt.Errorf("inventory: name rule %q: pattern and value must not be empty", raw)
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("inventory: name rule %q: %w", raw, err)
		}
		rules = append(rules, NameRule{Pattern: re, Value: value})
	}
	return rules, nil
}

func orDefault(names []string, fallback ...string) []string {
	if names == nil {
		return fallback
	}
	return names
}

// firstTag returns the value of the first tag in tags named by one of
// names, in the order of names; only string values count.
func firstTag(tags []cloudapi.NameValue, names []string) string {
	for _, want := range names {
		for _, tag := range tags {
			if !strings.EqualFold(tag.Name, want) {
				continue
			}
			var value string
			if json.Unmarshal(tag.Value, &value) == nil && strings.TrimSpace(value) != "" {
				return value
			}
		}
	}
	return ""
}

func matchName(rules []NameRule, name string) string {
	for _, rule := range rules {
		if rule.Pattern != nil && rule.Pattern.MatchString(name) {
			return rule.Value
		}
	}
	return ""
}
