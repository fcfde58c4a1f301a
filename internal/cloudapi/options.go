package cloudapi

import (
	"fmt"
	"net/url"
)

// Option sets a documented query parameter of one call. An operation that
// does not take the parameter refuses the call with an error rather than
// silently ignoring it.
type Option func(*query)

// DryRun makes the service only validate the change (createCluster,
// replaceCluster, updateCluster): nothing is created or changed, and a
// valid request is answered with the cluster as it would be.
func DryRun() Option { return func(q *query) { q.dryRun = true } }

// Force permits a hard update (every affected server restarted at once,
// with downtime) and prefers it when a rolling update is also possible
// (replaceCluster, updateCluster).
func Force() Option { return func(q *query) { q.force = true } }

// Pretty asks for indented JSON (listClusters, getCluster, createCluster,
// replaceCluster, updateCluster). It changes nothing else.
func Pretty() Option { return func(q *query) { q.pretty = true } }

type query struct{ dryRun, force, pretty bool }

// acceptedOptions lists the parameters openapi.yaml documents per operation.
var acceptedOptions = map[Operation]query{
	OpListClusters:   {pretty: true},
	OpGetCluster:     {pretty: true},
	OpCreateCluster:  {dryRun: true, pretty: true},
	OpReplaceCluster: {dryRun: true, force: true, pretty: true},
	OpUpdateCluster:  {dryRun: true, force: true, pretty: true},
}

// encodeOptions turns opts into the query string of op, or fails when op
// does not take one of them.
func encodeOptions(op Operation, opts []Option) (url.Values, error) {
	var q query
	for _, o := range opts {
		o(&q)
	}
	ok := acceptedOptions[op]
	values := url.Values{}
	for _, p := range []struct {
		name          string
		set, accepted bool
	}{
		{"dryRun", q.dryRun, ok.dryRun},
		{"force", q.force, ok.force},
		{"pretty", q.pretty, ok.pretty},
	} {
		if !p.set {
			continue
		}
		if !p.accepted {
			return nil, fmt.Errorf("cloudapi: %s does not take the %s option", op, p.name)
		}
		values.Set(p.name, "true")
	}
	return values, nil
}
