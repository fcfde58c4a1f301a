package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Config configures a Server. The zero value works: it accepts the
// client "clusterdesk" with secret "clusterdesk-sim-secret" in organization
// "clusterdesk".
type Config struct {
	// ClientID and ClientSecret are the OAuth client allowed to manage
	// clusters (the ManageClusters permission).
	ClientID     string
	ClientSecret string
	// Org is the organization, the Keycloak realm in the token URL.
	Org string
	// Clients are further OAuth clients, e.g. one without permission to
	// provoke 403.
	Clients []OAuthClient

	// TokenTTL is the lifetime of issued tokens. Zero means five minutes,
	// Imply's documented default.
	TokenTTL time.Duration
	// StageDuration is how long each stage of a change takes (provisioning,
	// each server of a rolling update, a whole hard update). Zero means 2 s;
	// tests use milliseconds.
	StageDuration time.Duration

	// StateFile, when set, keeps clusters across restarts: it is read by New
	// and written after every change and by Close.
	StateFile string
	// SeedDemo creates a few realistic clusters when there is no state to
	// load (no StateFile, or the file does not exist yet).
	SeedDemo bool
	// DisabledRules switches off inferred behaviours (see Rule).
	DisabledRules []Rule

	// RestartRoute is the one route that restarts a server, written
	// "METHOD /path" below the API root with the wildcards {clusterId} and
	// {instanceId}. Empty means DefaultRestartRoute. Any other spelling of
	// a restart gets the API's 404.
	RestartRoute string
	// RestartAliases also serves restart on the other candidate routes,
	// POST and DELETE /clusters/{clusterId}/servers/{instanceId}
	// (BEHAVIOUR.md §1), for clients written before the route was chosen.
	RestartAliases bool
	// RunningState is status.state of a running cluster. Empty means
	// STARTED; another name (e.g. RUNNING) contradicts a client that
	// expects STARTED. spec.desiredState stays STARTED or STOPPED.
	RunningState cloudapi.ClusterState
	// HealthyStatus is status.status of a healthy cluster. Empty means OK.
	HealthyStatus cloudapi.HealthStatus
	// FillDefaults makes the stored spec carry defaults the client did
	// not send, as a real service might (see the package documentation):
	// answers then hold members the request lacked.
	FillDefaults bool

	// Logger receives a debug record per call and an info record per state
	// change. Nil discards.
	Logger *slog.Logger
}

// OAuthClient is a client-credentials client of the simulated identity
// provider.
type OAuthClient struct {
	ID     string
	Secret string
	// ManageClusters grants the permission every API call needs; without
	// it calls are answered with 403.
	ManageClusters bool
}

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.ClientID == "" && c.ClientSecret == "":
		c.ClientID, c.ClientSecret = "clusterdesk", "clusterdesk-sim-secret"
	case c.ClientID == "" || c.ClientSecret == "":
		return c, errors.New("sim: set both ClientID and ClientSecret, or neither")
	}
	if c.Org == "" {
		c.Org = "clusterdesk"
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = 5 * time.Minute
	}
	if c.StageDuration <= 0 {
		c.StageDuration = 2 * time.Second
	}
	if c.RestartRoute == "" {
		c.RestartRoute = DefaultRestartRoute
	}
	if err := checkRoute(c.RestartRoute); err != nil {
		return c, fmt.Errorf("sim: RestartRoute %q: %w", c.RestartRoute, err)
	}
	if c.RunningState == "" {
		c.RunningState = cloudapi.StateStarted
	}
	if c.RunningState.Busy() || c.RunningState == cloudapi.StateStopped {
		return c, fmt.Errorf("sim: RunningState %q is already the name of another state", c.RunningState)
	}
	if c.HealthyStatus == "" {
		c.HealthyStatus = cloudapi.HealthOK
	}
	for _, r := range c.DisabledRules {
		if !slices.Contains(Rules(), r) {
			return c, fmt.Errorf("sim: DisabledRules: unknown rule %q (rules: %s)", r, knownRules())
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	for _, client := range c.Clients {
		if client.ID == "" || client.Secret == "" || client.ID == c.ClientID {
			return c, errors.New("sim: every extra client needs its own ID and a Secret")
		}
	}
	return c, nil
}

// DefaultRestartRoute is the restart route the client uses (BEHAVIOUR.md
// §1, inferred): the only one served unless Config says otherwise.
const DefaultRestartRoute = "POST /clusters/{clusterId}/servers/{instanceId}/restart"

// restartAliases are the other candidate restart routes (BEHAVIOUR.md §1),
// served with Config.RestartAliases.
var restartAliases = []string{
	"POST /clusters/{clusterId}/servers/{instanceId}",
	"DELETE /clusters/{clusterId}/servers/{instanceId}",
}

// checkRoute checks a "METHOD /path" route template for a server restart.
func checkRoute(route string) error {
	method, path, ok := strings.Cut(route, " ")
	switch {
	case !ok || !slices.Contains([]string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}, method):
		return errors.New(`want "METHOD /path" with METHOD one of GET, POST, PUT, PATCH, DELETE`)
	case !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " ?#"):
		return errors.New("the path must start with / and hold no spaces, query or fragment")
	case !strings.Contains(path, "{clusterId}") || !strings.Contains(path, "{instanceId}"):
		return errors.New("the path must hold {clusterId} and {instanceId}")
	}
	return nil
}

// Rule names a behaviour the simulator infers rather than knows
// (BEHAVIOUR.md §6 and §9); each can be switched off with
// Config.DisabledRules.
type Rule string

const (
	// RuleNameNotEmpty rejects an empty metadata.name (MalformedValue).
	RuleNameNotEmpty Rule = "name-not-empty"
	// RuleS3PathPattern requires deepStorage.path to match
	// ^s3://[^/]+(/.*)?$; without it only the s3:// prefix is checked.
	RuleS3PathPattern Rule = "s3-path-pattern"
	// RuleReplicasMin requires every replicas ≥ 1.
	RuleReplicasMin Rule = "replicas-min"
	// RuleMasterHA allows master.replicas of 1 or at least 3.
	RuleMasterHA Rule = "master-ha"
	// RuleDiskSizeMin requires metadataStore.diskSize ≥ 20 (GiB).
	RuleDiskSizeMin Rule = "disk-size-min"
	// RuleBackupRetention requires metadataStore.backupRetention in 0–35.
	RuleBackupRetention Rule = "backup-retention"
	// RuleInstanceTypeFormat requires EC2-like (t2.small) and RDS-like
	// (db.t3.small) instance types.
	RuleInstanceTypeFormat Rule = "instance-type-format"
	// RuleVersionNotEmpty rejects an empty spec.version.
	RuleVersionNotEmpty Rule = "version-not-empty"
	// RuleRequiredSections requires version, awsInstanceRole, master,
	// query, data, data.tier1 and deepStorage (with its path) in full
	// documents (POST, PUT, and the result of a PATCH).
	RuleRequiredSections Rule = "required-sections"
	// RuleHardUpdateNeedsForce refuses, without force=true, a change that
	// restarts servers of a cluster that is not highly available (fewer
	// than three masters), since a rolling update is impossible there.
	RuleHardUpdateNeedsForce Rule = "hard-update-needs-force"
)

// Rules returns every inferred rule, all switched on by default, in the
// order of their declaration.
func Rules() []Rule {
	return []Rule{
		RuleNameNotEmpty, RuleS3PathPattern, RuleReplicasMin, RuleMasterHA,
		RuleDiskSizeMin, RuleBackupRetention, RuleInstanceTypeFormat,
		RuleVersionNotEmpty, RuleRequiredSections, RuleHardUpdateNeedsForce,
	}
}

// ParseRules reads rule switches, a comma-separated list of name=off and
// name=on applied from left to right to every rule switched on, and
// returns the rules left off, in the order of Rules, for
// Config.DisabledRules. "master-ha=off,hard-update-needs-force=off"
// switches two rules off; the name "all" stands for every rule, so
// "all=off,master-ha=on" keeps master-ha alone. Spaces around items are
// ignored; an empty list switches nothing off. An unknown name, or a
// switch other than name=on or name=off, is an error naming the known
// rules.
func ParseRules(s string) ([]Rule, error) {
	off := map[Rule]bool{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, _ := strings.Cut(item, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if value != "on" && value != "off" {
			return nil, fmt.Errorf("sim: rule switch %q: want name=on or name=off (rules: %s)", item, knownRules())
		}
		switch {
		case name == "all":
			for _, r := range Rules() {
				off[r] = value == "off"
			}
		case slices.Contains(Rules(), Rule(name)):
			off[Rule(name)] = value == "off"
		default:
			return nil, fmt.Errorf("sim: unknown rule %q (rules: %s)", name, knownRules())
		}
	}
	var disabled []Rule
	for _, r := range Rules() {
		if off[r] {
			disabled = append(disabled, r)
		}
	}
	return disabled, nil
}

// knownRules lists the rule names for error messages.
func knownRules() string {
	names := make([]string, 0, len(Rules())+1)
	for _, r := range Rules() {
		names = append(names, string(r))
	}
	return strings.Join(append(names, "all"), ", ")
}

func (c Config) enabled(r Rule) bool {
	for _, d := range c.DisabledRules {
		if d == r {
			return false
		}
	}
	return true
}
