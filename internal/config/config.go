// Package config loads Clusterdesk's configuration from PORTAL_* environment
// variables into one typed struct.
//
// Every field declares its variable, default and description in struct tags;
// docs/configuration.md lists the same (a test keeps them in step). A secret
// (type Secret) can also be read from a file named by the variable with
// _FILE appended, and never prints its value.
package config

import (
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/telemetry"
)

// Config is the whole configuration of a portal process.
type Config struct {
	ListenAddr      string        `env:"PORTAL_LISTEN_ADDR" default:":8080" help:"Address the web server listens on."`
	BaseURL         string        `env:"PORTAL_BASE_URL" default:"http://localhost:8080" check:"url" help:"The address people use to reach the portal; its scheme decides secure cookies and HSTS."`
	DatabaseURL     Secret        `env:"PORTAL_DATABASE_URL" required:"true" check:"postgres-url" help:"PostgreSQL connection URL (postgres://user:pass@host:5432/db). May hold a password, so it is treated as a secret."`
	LogFormat       string        `env:"PORTAL_LOG_FORMAT" default:"json" check:"oneof=json text" help:"Log line format: json or text."`
	LogLevel        string        `env:"PORTAL_LOG_LEVEL" default:"info" check:"oneof=debug info warn error" help:"Lowest level logged: debug, info, warn or error."`
	ShutdownTimeout time.Duration `env:"PORTAL_SHUTDOWN_TIMEOUT" default:"30s" check:"positive" help:"How long a stop waits for in-flight requests and jobs."`

	// What the web server accepts from clients and proxies (internal/handlers).
	MaxBodyBytes   int            `env:"PORTAL_MAX_BODY_BYTES" default:"2097152" check:"between=1024 10485760" help:"Largest request body the portal reads, in bytes (2 MiB by default, at most 10 MiB, Go's form limit); a larger one is refused with 413 before anything reads it. The largest form, a cluster spec in JSON mode, is far smaller."`
	TrustedProxies []netip.Prefix `env:"PORTAL_TRUSTED_PROXIES" help:"Proxies and load balancers in front of the portal, as addresses or CIDRs, comma-separated (10.0.0.0/8,192.0.2.10): X-Forwarded-For is believed only as far as these added it. Empty believes none: a client's address is its TCP peer's."`
	// How many changes a signed-in person may send (internal/handlers).
	RateLimitPerMinute int `env:"PORTAL_RATE_LIMIT_PER_MINUTE" default:"120" check:"between=0 10000" help:"State-changing requests (POST, PUT, PATCH, DELETE) one signed-in person may send a minute, all at once or spread out; more are refused with 429 and Retry-After. Counted in memory by each replica, so behind a load balancer a person may get up to this many from each. Reads and requests without a session are not counted. 0 switches the limit off."`

	// Sign-in (internal/auth).
	OIDCIssuer             string        `env:"PORTAL_OIDC_ISSUER" check:"url-or-empty" help:"Issuer URL of the company's OpenID Connect provider, exactly as its discovery document states it. Required by portal serve."`
	OIDCClientID           string        `env:"PORTAL_OIDC_CLIENT_ID" help:"The portal's client id at the provider. Register BASE_URL/auth/callback as its redirect URI and BASE_URL/auth/signed-out as its post-logout redirect URI. Required by portal serve."`
	OIDCClientSecret       Secret        `env:"PORTAL_OIDC_CLIENT_SECRET" help:"The portal's client secret at the provider; leave empty for a public client (PKCE only)."`
	OIDCScopes             []string      `env:"PORTAL_OIDC_SCOPES" default:"openid,profile,email" help:"Scopes requested at sign-in, comma-separated; must include openid. Add groups if the provider only sends groups for that scope."`
	OIDCGroupsClaim        string        `env:"PORTAL_OIDC_GROUPS_CLAIM" default:"groups" help:"Claim holding the person's groups, read from the ID token, or from userinfo when the ID token lacks it."`
	APIAudience            string        `env:"PORTAL_API_AUDIENCE" help:"Audience a token of the OpenID provider must name for a machine (a CI pipeline's workload identity) to call the JSON API with it as a service identity; empty takes no such tokens (personal access tokens still work)."`
	APIRatePerMinute       int           `env:"PORTAL_API_RATE_PER_MINUTE" default:"300" check:"between=0 100000" help:"Calls to the JSON API one person or machine may make a minute, all at once or spread out; more are refused with 429 and Retry-After. Counted in memory by each replica. 0 switches the limit off."`
	RequesterGroups        []string      `env:"PORTAL_REQUESTER_GROUPS" help:"Groups whose members may request changes, comma-separated; empty lets everyone who signs in request changes."`
	ApproverGroups         []string      `env:"PORTAL_APPROVER_GROUPS" default:"approvers" help:"Groups whose members may approve change requests, comma-separated."`
	AdminGroups            []string      `env:"PORTAL_ADMIN_GROUPS" default:"admins" help:"Groups whose members administer the portal (policies, cancelling any request), comma-separated."`
	AuditorGroups          []string      `env:"PORTAL_AUDITOR_GROUPS" default:"auditors" help:"Groups whose members may read and export the audit log, comma-separated."`
	EmergencyGroups        []string      `env:"PORTAL_EMERGENCY_GROUPS" help:"Groups whose members may file an emergency (break-glass) change, comma-separated: it bypasses approvals and change windows, is sent at once and must be reviewed afterwards. Empty: nobody may."`
	EmergencyReviewWithin  time.Duration `env:"PORTAL_EMERGENCY_REVIEW_WITHIN" default:"24h" check:"positive" help:"An approver must review an emergency change within this time; the admin page lists the unreviewed ones, overdue first."`
	RequestExpireAfter     time.Duration `env:"PORTAL_REQUEST_EXPIRE_AFTER" default:"0s" help:"A pending or stale request nobody touched for this long expires (the worker checks hourly) and its page says when it will; 0s: requests never expire."`
	SessionIdleTimeout     time.Duration `env:"PORTAL_SESSION_IDLE_TIMEOUT" default:"30m" check:"positive" help:"A session not used for this long ends; the person signs in again."`
	SessionAbsoluteTimeout time.Duration `env:"PORTAL_SESSION_ABSOLUTE_TIMEOUT" default:"12h" check:"positive" help:"A session ends this long after sign-in, however active; group changes at the provider take effect within it."`

	// The Imply Cloud Manager API (internal/cloudapi).
	CloudAPIURL       string        `env:"PORTAL_CLOUD_API_URL" check:"url-or-empty" help:"Base URL of the Cloud Manager API, such as https://example.implycloud.com/api/v1. Required by portal serve."`
	CloudTokenURL     string        `env:"PORTAL_CLOUD_TOKEN_URL" check:"url-or-empty" help:"OAuth token endpoint of the service account (client-credentials grant), such as https://id.imply.io/auth/realms/ORG/protocol/openid-connect/token."`
	CloudClientID     string        `env:"PORTAL_CLOUD_CLIENT_ID" help:"Client id of the service account's OAuth client."`
	CloudClientSecret Secret        `env:"PORTAL_CLOUD_CLIENT_SECRET" help:"Client secret of the service account's OAuth client."`
	CloudToken        Secret        `env:"PORTAL_CLOUD_TOKEN" help:"A static bearer token instead of the client-credentials grant (tokens expire: for trials only)."`
	CloudTimeout      time.Duration `env:"PORTAL_CLOUD_TIMEOUT" default:"30s" check:"positive" help:"Time limit of one call to the Cloud Manager API."`
	CloudSettleTime   time.Duration `env:"PORTAL_CLOUD_SETTLE_TIME" default:"2m" check:"positive" help:"The longest the Cloud Manager API, or a gateway in front of it, may still process a call the portal gave up on. A change whose answer was lost is not taken for never applied (and sent again) before this has passed; a create is then never sent again but left for a person. At least PORTAL_CLOUD_TIMEOUT."`

	// What the portal assumes of the Cloud Manager API where its reference
	// is silent (docs/cloud-manager-api/BEHAVIOUR.md §12; portal cloud check
	// verifies them against a tenant).
	CloudRunningStates []string `env:"PORTAL_CLOUD_RUNNING_STATES" default:"STARTED,RUNNING" help:"Values of status.state that mean a cluster runs, comma-separated: a create or start has converged when one is reached."`
	CloudStoppedStates []string `env:"PORTAL_CLOUD_STOPPED_STATES" default:"STOPPED" help:"Values of status.state that mean a cluster is stopped, comma-separated."`
	CloudBusyStates    []string `env:"PORTAL_CLOUD_BUSY_STATES" default:"PENDING,UPDATING" help:"Values of status.state that mean a cluster is busy applying a change, comma-separated: tracking waits while one holds."`
	CloudHealthyValues []string `env:"PORTAL_CLOUD_HEALTHY_VALUES" default:"OK" help:"Values of status.status that mean a settled cluster is healthy, comma-separated; a change that settles on another value fails."`
	CloudRestartRoute  string   `env:"PORTAL_CLOUD_RESTART_ROUTE" default:"POST /clusters/{clusterId}/servers/{instanceId}/restart" help:"Method and path (below the API URL) that restart one server; the reference does not print it."`
	CloudFillsDefaults bool     `env:"PORTAL_CLOUD_FILLS_DEFAULTS" default:"false" help:"Whether Cloud Manager adds defaults to the configurations it stores. When true, a replaced configuration counts as applied when every member sent is there, whatever else the API added."`

	// The cluster inventory (internal/inventory).
	InventorySyncInterval time.Duration `env:"PORTAL_INVENTORY_SYNC_INTERVAL" default:"30s" check:"positive" help:"How often the worker copies every cluster from the Cloud Manager API into PostgreSQL; pages read that copy, so API calls do not grow with viewers."`
	TrackInterval         time.Duration `env:"PORTAL_TRACK_INTERVAL" default:"5s" check:"positive" help:"How often the worker reads a cluster while an accepted change is applied to it: the request page's progress and events move at this pace."`
	PresetsFile           string        `env:"PORTAL_PRESETS_FILE" help:"A JSON file of presets for the create form ([{\"name\", \"description\", \"spec\"}]); empty uses the built-in \"small development cluster\" and \"highly available production\"."`

	// The audit log (internal/audit, docs/audit.md).
	JobRescueAfter      time.Duration `env:"PORTAL_JOB_RESCUE_AFTER" default:"5m" check:"positive" help:"How long a job may run before the worker takes its process for dead and runs it again. A change whose process died mid-call is first reconciled with the live cluster, so it is never sent twice."`
	AuditVerifyInterval time.Duration `env:"PORTAL_AUDIT_VERIFY_INTERVAL" default:"1h" check:"positive" help:"How often the worker verifies the whole audit hash chain; a broken chain is logged at error level and shown on the audit page."`
	AuditRetentionYears int           `env:"PORTAL_AUDIT_RETENTION_YEARS" default:"0" check:"nonnegative" help:"Years audit events are kept; older ones are pruned daily, leaving a verifiable anchor, and the pruning is itself audited. 0 keeps them forever."`

	// Notifications (internal/notify, docs/notifications.md).
	SMTPHost               string   `env:"PORTAL_SMTP_HOST" help:"Mail server that notification emails are sent through; empty sends no email (chat and webhooks still work)."`
	SMTPPort               int      `env:"PORTAL_SMTP_PORT" default:"587" check:"between=1 65535" help:"Port of the mail server: 587 for STARTTLS, 465 for implicit TLS."`
	SMTPTLS                string   `env:"PORTAL_SMTP_TLS" default:"starttls" check:"oneof=starttls implicit none" help:"How the mail connection is secured: starttls (refused if the server does not offer it), implicit (TLS from the start) or none (a local mail catcher only)."`
	SMTPUsername           string   `env:"PORTAL_SMTP_USERNAME" help:"User name for SMTP authentication (PLAIN, over TLS); empty sends without authenticating."`
	SMTPPassword           Secret   `env:"PORTAL_SMTP_PASSWORD" help:"Password for SMTP authentication."`
	SMTPFrom               string   `env:"PORTAL_SMTP_FROM" default:"Clusterdesk <clusterdesk@localhost>" help:"Sender of notification emails, as an address or Name <address>."`
	NotifyChatWebhooks     Secret   `env:"PORTAL_NOTIFY_CHAT_WEBHOOKS" help:"Slack-compatible incoming webhook URLs told of every request, comma-separated (each URL holds its token, so the whole value is a secret). Admins add more, per environment or policy, in the portal."`
	NotifyWebhookURL       string   `env:"PORTAL_NOTIFY_WEBHOOK_URL" check:"url-or-empty" help:"A generic webhook receiver told of every request, signed per Standard Webhooks with PORTAL_NOTIFY_WEBHOOK_SECRET. Admins add more in the portal."`
	NotifyWebhookSecret    Secret   `env:"PORTAL_NOTIFY_WEBHOOK_SECRET" help:"The signing secret of PORTAL_NOTIFY_WEBHOOK_URL: whsec_ followed by at least 16 bytes in base64."`
	NotifyEmergencyGroups  []string `env:"PORTAL_NOTIFY_EMERGENCY_GROUPS" help:"Groups whose members are emailed of every emergency (break-glass) change, comma-separated; empty: the groups of the approver role (PORTAL_APPROVER_GROUPS), who review them afterwards."`
	NotifyHardUpdateGroups []string `env:"PORTAL_NOTIFY_HARD_UPDATE_GROUPS" help:"Groups whose members are emailed of every hard update sent to Cloud Manager (every affected server restarted at once), comma-separated; empty: nobody beyond the request's requester and approvers."`
	NotifyMaxAttempts      int      `env:"PORTAL_NOTIFY_MAX_ATTEMPTS" default:"8" check:"between=1 100" help:"Tries of one delivery (email, chat or webhook) before it is marked failed in the delivery log, waiting 10 s after the first failure and twice as long after each next, up to 10 min."`

	// Prometheus metrics (internal/metrics), off the public port.
	MetricsAddr string `env:"PORTAL_METRICS_ADDR" default:"127.0.0.1:9090" help:"Address of the listener that serves Prometheus metrics at /metrics, apart from PORTAL_LISTEN_ADDR (which never serves them); off serves none."`

	// Logs (tracing is set with the standard OTEL_* variables, read by
	// internal/telemetry).
	SlowRequest time.Duration `env:"PORTAL_SLOW_REQUEST" default:"1s" check:"nonnegative-duration" help:"A request that takes longer is logged at warn level with its route, status, duration and request id; 0 logs none. Event streams are never counted."`
}

// MetricsOff is the PORTAL_METRICS_ADDR that serves no metrics (an empty
// value means the default).
const MetricsOff = "off"

// Secret is a string that never prints: fmt, slog and JSON see "[redacted]".
// Call Reveal where the value is really needed.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue hides the value from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText hides the value from encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Problems lists every invalid or missing variable, one per line.
type Problems []string

func (p Problems) Error() string { return strings.Join(p, "\n") }

// Load reads the configuration through lookup (os.LookupEnv, or a map in
// tests), applies defaults, and validates it. The error is Problems when any
// variable is wrong.
func Load(lookup func(string) (string, bool)) (Config, error) {
	var cfg Config
	var problems Problems
	v := reflect.ValueOf(&cfg).Elem()
	for _, f := range Fields() {
		raw, set, err := lookupValue(lookup, f)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if !set {
			if f.Required {
				problems = append(problems, fmt.Sprintf("%s: required; %s", f.Env, f.Help))
				continue
			}
			raw = f.Default
		}
		if err := setField(v.FieldByIndex(f.index), raw); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", f.Env, err))
			continue
		}
		if err := check(f, raw, set); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", f.Env, err))
		}
	}
	if len(problems) > 0 {
		return Config{}, problems
	}
	return cfg, nil
}

// LookupEnv reads the process environment, treating an empty value as unset.
func LookupEnv(name string) (string, bool) {
	v, ok := os.LookupEnv(name)
	return v, ok && v != ""
}

// Field describes one configuration variable.
type Field struct {
	Env      string
	Default  string
	Help     string
	Required bool
	Secret   bool
	Check    string
	index    []int
}

// Fields lists the variables in declaration order.
func Fields() []Field {
	t := reflect.TypeOf(Config{})
	fields := make([]Field, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		fields = append(fields, Field{
			Env:      sf.Tag.Get("env"),
			Default:  sf.Tag.Get("default"),
			Help:     sf.Tag.Get("help"),
			Required: sf.Tag.Get("required") == "true",
			Secret:   sf.Type == reflect.TypeOf(Secret("")),
			Check:    sf.Tag.Get("check"),
			index:    sf.Index,
		})
	}
	return fields
}

// lookupValue reads a variable, or for a secret its _FILE variant.
func lookupValue(lookup func(string) (string, bool), f Field) (string, bool, error) {
	raw, set := lookup(f.Env)
	if !f.Secret {
		return raw, set, nil
	}
	path, fromFile := lookup(f.Env + "_FILE")
	switch {
	case set && fromFile:
		return "", false, fmt.Errorf("%s: set either %s or %s_FILE, not both", f.Env, f.Env, f.Env)
	case fromFile:
		content, err := os.ReadFile(path)
		if err != nil {
			return "", false, fmt.Errorf("%s_FILE: cannot read the secret file: %v", f.Env, err)
		}
		return strings.TrimRight(string(content), "\r\n"), true, nil
	}
	return raw, set, nil
}

func setField(v reflect.Value, raw string) error {
	switch v.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("want a duration such as 30s, 5m or 12h, got %q", raw)
		}
		v.SetInt(int64(d))
	case int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return fmt.Errorf("want a whole number, got %q", raw)
		}
		v.SetInt(int64(n))
	case bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", raw)
		}
		v.SetBool(b)
	case []string:
		var list []string
		for item := range strings.SplitSeq(raw, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		v.Set(reflect.ValueOf(list))
	case []netip.Prefix:
		var list []netip.Prefix
		for item := range strings.SplitSeq(raw, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			p, err := parsePrefix(item)
			if err != nil {
				return fmt.Errorf("want addresses or CIDRs such as 10.0.0.0/8 or 192.0.2.10, comma-separated, got %q", item)
			}
			list = append(list, p)
		}
		v.Set(reflect.ValueOf(list))
	default: // string and Secret
		v.SetString(raw)
	}
	return nil
}

// parsePrefix reads a CIDR, or a single address as the prefix holding only it.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}

// check applies a field's rule to its raw text. Secrets are never echoed.
func check(f Field, raw string, set bool) error {
	rule, arg, _ := strings.Cut(f.Check, "=")
	shown := strconv.Quote(raw)
	if f.Secret {
		shown = "the value given"
	}
	switch rule {
	case "":
		return nil
	case "url":
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("want an absolute http(s) URL such as https://portal.example.com, got %s", shown)
		}
	case "url-or-empty":
		if raw == "" {
			return nil
		}
		return check(Field{Env: f.Env, Check: "url", Secret: f.Secret}, raw, set)
	case "postgres-url":
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			return fmt.Errorf("want a PostgreSQL URL such as postgres://user:password@localhost:5432/clusterdesk, got %s", shown)
		}
	case "oneof":
		for option := range strings.FieldsSeq(arg) {
			if raw == option {
				return nil
			}
		}
		return fmt.Errorf("want one of %s, got %s", strings.ReplaceAll(arg, " ", ", "), shown)
	case "positive":
		if d, _ := time.ParseDuration(raw); d <= 0 {
			return fmt.Errorf("want a duration above zero, got %s", shown)
		}
	case "nonnegative-duration":
		if d, _ := time.ParseDuration(raw); d < 0 {
			return fmt.Errorf("want a duration of zero or more, got %s", shown)
		}
	case "between":
		lo, hi, _ := strings.Cut(arg, " ")
		n, _ := strconv.Atoi(raw)
		if low, _ := strconv.Atoi(lo); n < low {
			return fmt.Errorf("want a number from %s to %s, got %s", lo, hi, shown)
		}
		if high, _ := strconv.Atoi(hi); n > high {
			return fmt.Errorf("want a number from %s to %s, got %s", lo, hi, shown)
		}
	case "nonnegative":
		if n, _ := strconv.Atoi(raw); n < 0 {
			return fmt.Errorf("want zero or more, got %s", shown)
		}
	default:
		return fmt.Errorf("config: unknown check %q", f.Check)
	}
	return nil
}

// CheckServe reports what `portal serve` needs beyond Load's checks: a
// sign-in provider, scopes with openid, and session timeouts that make sense
// together. The error is Problems.
func (c Config) CheckServe() error {
	var problems Problems
	if c.OIDCIssuer == "" {
		problems = append(problems, "PORTAL_OIDC_ISSUER: required by portal serve; the issuer URL of the OpenID Connect provider people sign in with")
	}
	if c.OIDCClientID == "" {
		problems = append(problems, "PORTAL_OIDC_CLIENT_ID: required by portal serve; the portal's client id at the provider")
	}
	if !slices.Contains(c.OIDCScopes, "openid") {
		problems = append(problems, fmt.Sprintf("PORTAL_OIDC_SCOPES: must include openid, got %q", strings.Join(c.OIDCScopes, ",")))
	}
	if c.CloudAPIURL == "" {
		problems = append(problems, "PORTAL_CLOUD_API_URL: required by portal serve; the base URL of the Imply Cloud Manager API")
	}
	hasGrant := c.CloudTokenURL != "" && c.CloudClientID != "" && c.CloudClientSecret != ""
	if !hasGrant && c.CloudToken == "" {
		problems = append(problems, "PORTAL_CLOUD_CLIENT_ID: the Cloud Manager API needs PORTAL_CLOUD_TOKEN_URL, PORTAL_CLOUD_CLIENT_ID and PORTAL_CLOUD_CLIENT_SECRET (or a static PORTAL_CLOUD_TOKEN)")
	}
	// A job rescued, or a lost answer settled, while the client could still
	// be waiting for that answer would let a change be sent twice.
	if c.JobRescueAfter <= c.CloudTimeout {
		problems = append(problems, fmt.Sprintf("PORTAL_JOB_RESCUE_AFTER: %s must be longer than PORTAL_CLOUD_TIMEOUT (%s), or a change could be sent again while its first call is still being answered", c.JobRescueAfter, c.CloudTimeout))
	}
	if c.CloudSettleTime < c.CloudTimeout {
		problems = append(problems, fmt.Sprintf("PORTAL_CLOUD_SETTLE_TIME: %s must be at least PORTAL_CLOUD_TIMEOUT (%s), or an answer still awaited would be taken for a lost one", c.CloudSettleTime, c.CloudTimeout))
	}
	if c.MetricsAddr != MetricsOff && c.MetricsAddr == c.ListenAddr {
		problems = append(problems, fmt.Sprintf("PORTAL_METRICS_ADDR: %s is PORTAL_LISTEN_ADDR; metrics are served on a listener of their own, off the public port", c.MetricsAddr))
	}
	if c.SessionIdleTimeout > c.SessionAbsoluteTimeout {
		problems = append(problems, fmt.Sprintf("PORTAL_SESSION_IDLE_TIMEOUT: %s is longer than PORTAL_SESSION_ABSOLUTE_TIMEOUT (%s)", c.SessionIdleTimeout, c.SessionAbsoluteTimeout))
	}
	if len(problems) > 0 {
		return problems
	}
	return nil
}

// Logger builds the process logger the configuration asks for. A line
// logged with a request's or a job's context says which request and trace
// it belongs to (telemetry.LogHandler).
func (c Config) Logger(w interface{ Write([]byte) (int, error) }) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "text" {
		return slog.New(telemetry.LogHandler(slog.NewTextHandler(w, opts)))
	}
	return slog.New(telemetry.LogHandler(slog.NewJSONHandler(w, opts)))
}

// LogValue is every effective setting, named by its variable, for the
// line printed at start: a secret shows "[redacted]" when set and "" when
// not, never its value; lists are comma-separated.
func (c Config) LogValue() slog.Value {
	v := reflect.ValueOf(c)
	fields := Fields()
	attrs := make([]slog.Attr, 0, len(fields))
	for _, f := range fields {
		attrs = append(attrs, slog.String(f.Env, settingText(v.FieldByIndex(f.index).Interface())))
	}
	return slog.GroupValue(attrs...)
}

func settingText(value any) string {
	switch x := value.(type) {
	case Secret:
		return x.String()
	case []string:
		return strings.Join(x, ",")
	case []netip.Prefix:
		texts := make([]string, len(x))
		for i, p := range x {
			texts[i] = p.String()
		}
		return strings.Join(texts, ",")
	case time.Duration:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

// Secure reports whether the portal is served over https.
func (c Config) Secure() bool { return strings.HasPrefix(c.BaseURL, "https://") }
