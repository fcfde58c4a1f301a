package cloudapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Behaviour is what the portal assumes about the API where the vendor's
// reference is silent (BEHAVIOUR.md §12); each field is a setting, so that
// a tenant that behaves otherwise is matched by configuration rather than
// by a new release. The zero value means the defaults (see
// DefaultBehaviour and WithDefaults).
type Behaviour struct {
	// RunningStates are the values of status.state of a running cluster.
	// Default: STARTED, RUNNING.
	RunningStates []ClusterState
	// StoppedStates are the values of a stopped cluster. Default: STOPPED.
	StoppedStates []ClusterState
	// BusyStates are the values of a cluster applying a change, which the
	// service answers with 409 StateConflict. Default: PENDING, UPDATING.
	BusyStates []ClusterState
	// HealthyValues are the values of status.status of a healthy cluster.
	// Default: OK.
	HealthyValues []HealthStatus
	// RestartRoute is the call that restarts a server: "METHOD /path",
	// the path below the API root with the placeholders {clusterId} and
	// {instanceId}. Default: "POST /clusters/{clusterId}/servers/{instanceId}/restart".
	RestartRoute string
	// FillsDefaults says whether the service adds default values to the
	// documents it stores, so that a spec read back may hold more than
	// the spec sent. Default: false.
	FillsDefaults bool
}

// The route placeholders of Behaviour.RestartRoute.
const (
	placeholderCluster  = "{clusterId}"
	placeholderInstance = "{instanceId}"
)

// The defaults, shared by DefaultBehaviour (which copies them) and the
// predicates of a Behaviour whose field is empty.
var (
	defaultRunning      = []ClusterState{StateStarted, StateRunning}
	defaultStopped      = []ClusterState{StateStopped}
	defaultBusy         = []ClusterState{StatePending, StateUpdating}
	defaultHealthy      = []HealthStatus{HealthOK}
	defaultRestartRoute = "POST /clusters/" + placeholderCluster + "/servers/" + placeholderInstance + "/restart"
)

// DefaultBehaviour returns the behaviour this client assumes unless told
// otherwise: the simulator's (BEHAVIOUR.md §12), plus RUNNING as a second
// name of the running state.
func DefaultBehaviour() Behaviour {
	return Behaviour{
		RunningStates: slices.Clone(defaultRunning),
		StoppedStates: slices.Clone(defaultStopped),
		BusyStates:    slices.Clone(defaultBusy),
		HealthyValues: slices.Clone(defaultHealthy),
		RestartRoute:  defaultRestartRoute,
	}
}

// WithDefaults returns b with each empty field (nil or empty list, empty
// route) set to its default. FillsDefaults is kept as it is: its default
// is its zero value. The lists are copies, never shared with b.
func (b Behaviour) WithDefaults() Behaviour {
	route := strings.TrimSpace(b.RestartRoute)
	if route == "" {
		route = defaultRestartRoute
	}
	return Behaviour{
		RunningStates: slices.Clone(orDefault(b.RunningStates, defaultRunning)),
		StoppedStates: slices.Clone(orDefault(b.StoppedStates, defaultStopped)),
		BusyStates:    slices.Clone(orDefault(b.BusyStates, defaultBusy)),
		HealthyValues: slices.Clone(orDefault(b.HealthyValues, defaultHealthy)),
		RestartRoute:  route,
		FillsDefaults: b.FillsDefaults,
	}
}

// Validate reports every mistake in b at once, or nil. A state or health
// value may not be empty; a state may belong to one of running, stopped
// and busy only (so that no cluster is both running and busy); the
// restart route needs a method among GET, POST, PUT, PATCH and DELETE, a
// path starting with "/" and each of {clusterId} and {instanceId} exactly
// once, and no other placeholder. Validate checks b as WithDefaults
// completes it, so an empty field is no mistake but a state given as
// running that is busy by default (UPDATING) is.
func (b Behaviour) Validate() error {
	b = b.WithDefaults()
	var errs []error
	seen := map[ClusterState]string{}
	for _, group := range []struct {
		name   string
		states []ClusterState
	}{{"running", b.RunningStates}, {"stopped", b.StoppedStates}, {"busy", b.BusyStates}} {
		for _, s := range group.states {
			switch other, dup := seen[s]; {
			case s == "":
				errs = append(errs, fmt.Errorf("an empty state among the %s states", group.name))
			case dup && other != group.name:
				errs = append(errs, fmt.Errorf("state %q cannot be both %s and %s", s, other, group.name))
			default:
				seen[s] = group.name
			}
		}
	}
	if slices.Contains(b.HealthyValues, "") {
		errs = append(errs, errors.New("an empty value among the healthy values"))
	}
	if _, _, err := parseRoute(b.RestartRoute); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cloudapi: behaviour: %w", err)
	}
	return nil
}

// Running reports whether s is the state of a running cluster. Like the
// other predicates it reads an empty field as its default.
func (b Behaviour) Running(s ClusterState) bool {
	return slices.Contains(orDefault(b.RunningStates, defaultRunning), s)
}

// Stopped reports whether s is the state of a stopped cluster.
func (b Behaviour) Stopped(s ClusterState) bool {
	return slices.Contains(orDefault(b.StoppedStates, defaultStopped), s)
}

// Busy reports whether s is the state of a cluster applying a change,
// during which the service answers every other change with 409.
func (b Behaviour) Busy(s ClusterState) bool {
	return slices.Contains(orDefault(b.BusyStates, defaultBusy), s)
}

// Healthy reports whether h is the health of a healthy cluster.
func (b Behaviour) Healthy(h HealthStatus) bool {
	return slices.Contains(orDefault(b.HealthyValues, defaultHealthy), h)
}

func orDefault[T any](list, def []T) []T {
	if len(list) == 0 {
		return def
	}
	return list
}

// RestartRequest returns the method and the path (below the API root, each
// id path-escaped) that RestartServer sends to restart server instanceID
// of cluster id: RestartRoute filled in, or the default route when it is
// empty. Errors: a route that does not pass Validate.
func (b Behaviour) RestartRequest(id, instanceID string) (method, path string, err error) {
	route := strings.TrimSpace(b.RestartRoute)
	if route == "" {
		route = defaultRestartRoute
	}
	method, tmpl, err := parseRoute(route)
	if err != nil {
		return "", "", err
	}
	path = strings.NewReplacer(
		placeholderCluster, url.PathEscape(id),
		placeholderInstance, url.PathEscape(instanceID),
	).Replace(tmpl)
	return method, path, nil
}

// parseRoute splits a route "METHOD /path" and checks it.
func parseRoute(route string) (method, path string, err error) {
	method, path, ok := strings.Cut(strings.TrimSpace(route), " ")
	path = strings.TrimSpace(path)
	if !ok || path == "" {
		return "", "", fmt.Errorf("restart route %q: want \"METHOD /path\"", route)
	}
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return "", "", fmt.Errorf("restart route %q: method %q is not one of GET, POST, PUT, PATCH, DELETE", route, method)
	}
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " ?#") {
		return "", "", fmt.Errorf("restart route %q: the path must start with / and hold no space, query or fragment", route)
	}
	for _, p := range []string{placeholderCluster, placeholderInstance} {
		if n := strings.Count(path, p); n != 1 {
			return "", "", fmt.Errorf("restart route %q: the path must hold %s once (found %d)", route, p, n)
		}
	}
	rest := strings.NewReplacer(placeholderCluster, "", placeholderInstance, "").Replace(path)
	if strings.ContainsAny(rest, "{}") {
		return "", "", fmt.Errorf("restart route %q: only {clusterId} and {instanceId} may be placeholders", route)
	}
	return method, path, nil
}
