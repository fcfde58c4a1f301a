// Package cloudcheck verifies, without changing anything, what the portal
// assumes about a Cloud Manager tenant: the routes it infers, the state
// and health names it waits for, the round trip of a document, the dry
// runs. `portal cloud check` runs it before going live.
package cloudcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Run checks the tenant cfg points at against behaviour b. Every request
// goes through a ReadOnly guard, so nothing but GET, dry runs, the token
// request and the restart probe (of a server that cannot exist) is sent.
// Errors: a configuration the client refuses.
func Run(ctx context.Context, cfg cloudapi.Config, b cloudapi.Behaviour) (Report, error) {
	b = b.WithDefaults()
	if err := b.Validate(); err != nil {
		return Report{}, err
	}
	var next http.RoundTripper
	httpClient := &http.Client{}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		httpClient = &copied
		next = cfg.HTTPClient.Transport
	}
	guard := &ReadOnly{Next: next, TokenURL: cfg.TokenURL}
	httpClient.Transport = guard
	cfg.HTTPClient = httpClient
	cfg.Behaviour = b
	client, err := cloudapi.New(cfg)
	if err != nil {
		return Report{}, err
	}
	c := &checker{client: client, guard: guard, http: httpClient, base: strings.TrimRight(cfg.BaseURL, "/"), b: b}
	c.run(ctx)
	return c.report, nil
}

type checker struct {
	client *cloudapi.Client
	guard  *ReadOnly
	http   *http.Client
	base   string
	b      cloudapi.Behaviour
	report Report
}

func (c *checker) add(f Finding) { c.report.Findings = append(c.report.Findings, f) }

func (c *checker) run(ctx context.Context) {
	clusters, err := c.client.ListClusters(ctx)
	if err != nil {
		c.add(Finding{Assumption: "The service account gets a token and may list clusters (GET /clusters)", Section: "§1, §2",
			Result: Contradicted, Evidence: err.Error()})
		c.notCheckable("the list failed, so nothing else could be read")
		return
	}
	c.add(Finding{Assumption: "The service account gets a token and may list clusters (GET /clusters)", Section: "§1, §2",
		Result: Confirmed, Evidence: fmt.Sprintf("%d clusters listed", len(clusters))})
	readable := c.checkDecoding(clusters)
	c.checkStates(readable)
	target, ok := pickSettled(readable, c.b)
	if !ok {
		c.notCheckable("no cluster that is readable and not busy to read, dry-run or probe")
		return
	}
	live := c.checkGet(ctx, target)
	if live == nil {
		return
	}
	c.checkHistory(ctx, live)
	c.checkPatchDryRun(ctx, live)
	c.checkPutDryRun(ctx, live)
	c.checkRestartRoute(ctx, live)
	c.checkUnchanged(ctx, live)
	c.add(Finding{Assumption: "A change that restarts servers of a cluster with fewer than 3 masters needs force=true (the portal sends it only for a reviewed hard update)",
		Section: "§6", Result: NotCheckable, Evidence: "only a real change shows it; the portal asks for force=true only when a dry run says so"})
	c.add(Finding{Assumption: "Create, update and replace may answer 2xx without a body; delete answers 2xx without one",
		Section: "§1", Result: NotCheckable, Evidence: "only a real change shows it; the portal reads the cluster back when a reply has no body"})
}

// notCheckable records the findings a failed step left unchecked.
func (c *checker) notCheckable(why string) {
	for _, a := range []struct{ what, section string }{
		{"clusterId in paths is metadata.uid (GET /clusters/{clusterId})", "§3"},
		{"History: GET /clusters/{clusterId}/history/{resourceVersion} returns that version", "§5"},
		{"A merge patch (PATCH, application/merge-patch+json) is accepted with dryRun=true", "§6"},
		{"A PUT of the document as read (unknown members included) is accepted with dryRun=true", "§6"},
		{"Defaults filled into stored documents: PORTAL_CLOUD_FILLS_DEFAULTS", "§12"},
		{"Restart route: PORTAL_CLOUD_RESTART_ROUTE", "§7"},
	} {
		c.add(Finding{Assumption: a.what, Section: a.section, Result: NotCheckable, Evidence: why})
	}
}

// checkDecoding: every cluster decodes; the readable ones are returned.
func (c *checker) checkDecoding(clusters []cloudapi.Cluster) []cloudapi.Cluster {
	var readable []cloudapi.Cluster
	var bad []string
	for _, cl := range clusters {
		if cl.Unreadable != "" {
			bad = append(bad, fmt.Sprintf("%s (%s): %s", cl.Metadata.Name, cl.Metadata.UID, cl.Unreadable))
			continue
		}
		readable = append(readable, cl)
	}
	f := Finding{Assumption: "Every cluster document decodes (unknown members and enum values kept)", Section: "§3", Result: Confirmed,
		Evidence: fmt.Sprintf("%d of %d decoded", len(readable), len(clusters))}
	if len(bad) > 0 {
		f.Result, f.Evidence = Contradicted, "unreadable: "+strings.Join(bad, "; ")
	}
	c.add(f)
	return readable
}

// checkStates compares the states and health values seen with the
// configured names.
func (c *checker) checkStates(clusters []cloudapi.Cluster) {
	var running, stopped, unknown, health, unhealthy []string
	for _, cl := range clusters {
		s := cl.Status
		if s == nil {
			continue
		}
		name := cl.Metadata.Name
		settled := !c.b.Busy(s.State) && s.UpdateState == nil
		switch {
		case !c.b.Running(s.State) && !c.b.Stopped(s.State) && !c.b.Busy(s.State):
			unknown = append(unknown, fmt.Sprintf("%s: %q", name, s.State))
		case settled && cl.Spec.DesiredState == cloudapi.DesiredStarted:
			running = append(running, fmt.Sprintf("%s: %s", name, s.State))
		case settled && cl.Spec.DesiredState == cloudapi.DesiredStopped:
			stopped = append(stopped, fmt.Sprintf("%s: %s", name, s.State))
		}
		if settled && s.Status != "" {
			if c.b.Healthy(s.Status) {
				health = append(health, fmt.Sprintf("%s: %s", name, s.Status))
			} else {
				unhealthy = append(unhealthy, fmt.Sprintf("%s: %q", name, s.Status))
			}
		}
	}
	states := Finding{Assumption: fmt.Sprintf("Every status.state is a running (%s), stopped (%s) or busy (%s) state: PORTAL_CLOUD_RUNNING_STATES, _STOPPED_STATES, _BUSY_STATES",
		join(c.b.RunningStates), join(c.b.StoppedStates), join(c.b.BusyStates)), Section: "§4", Result: Confirmed,
		Evidence: "running " + list(running) + "; stopped " + list(stopped)}
	switch {
	case len(unknown) > 0:
		states.Result = Contradicted
		states.Evidence = "states no setting names (a change would wait for them until it times out): " + strings.Join(unknown, ", ")
	case len(running) == 0 && len(stopped) == 0:
		states.Result, states.Evidence = NotCheckable, "no settled cluster to read a state from"
	}
	c.add(states)
	healthy := Finding{Assumption: fmt.Sprintf("A settled, healthy cluster has status.status in PORTAL_CLOUD_HEALTHY_VALUES (%s)", join(c.b.HealthyValues)),
		Section: "§4", Result: Confirmed, Evidence: "healthy " + list(health)}
	switch {
	case len(unhealthy) > 0 && len(health) == 0:
		healthy.Result = Contradicted
		healthy.Evidence = "no settled cluster has a configured healthy value; seen " + strings.Join(unhealthy, ", ") + " (a change would fail as unhealthy)"
	case len(unhealthy) > 0:
		healthy.Evidence += "; other values seen (taken for unhealthy): " + strings.Join(unhealthy, ", ")
	case len(health) == 0:
		healthy.Result, healthy.Evidence = NotCheckable, "no settled cluster reports status.status"
	}
	c.add(healthy)
}

// pickSettled returns a readable cluster that is not busy, preferring a
// running one.
func pickSettled(clusters []cloudapi.Cluster, b cloudapi.Behaviour) (cloudapi.Cluster, bool) {
	var best *cloudapi.Cluster
	for i, cl := range clusters {
		if cl.Status == nil || b.Busy(cl.Status.State) || cl.Status.UpdateState != nil || cl.Metadata.UID == "" {
			continue
		}
		if best == nil || (b.Running(cl.Status.State) && !b.Running(best.Status.State)) {
			best = &clusters[i]
		}
	}
	if best == nil {
		return cloudapi.Cluster{}, false
	}
	return *best, true
}

// join lists names, comma-separated.
func join[T ~string](names []T) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = string(n)
	}
	return strings.Join(parts, ", ")
}

func list(items []string) string {
	if len(items) == 0 {
		return "none seen"
	}
	slices.Sort(items)
	return strings.Join(items, ", ")
}

// errorText is an answer's status and error message, for evidence.
func errorText(status int, body []byte) string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return fmt.Sprintf("%d %s %q", status, e.Error.Code, e.Error.Message)
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 120 {
		text = text[:120] + "…"
	}
	return fmt.Sprintf("%d %q", status, text)
}

// probe sends method path (below the API root) with dryRun=true and the
// token the client uses, and returns the answer's status and body.
func (c *checker) probe(ctx context.Context, method, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path+"?dryRun=true", nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", c.guard.authorization())
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}
