package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/clusterdesk/clusterdesk/internal/api"
	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

// changeFile is the content of request update's file: a merge patch of
// the spec, or this object.
type changeFile struct {
	Patch      json.RawMessage `json:"patch,omitempty"`
	Spec       json.RawMessage `json:"spec,omitempty"`
	Reason     string          `json:"reason,omitempty"`
	HardUpdate bool            `json:"hard_update,omitempty"`
	// SeenResourceVersion goes with a whole spec.
	SeenResourceVersion *int64 `json:"seen_resource_version,omitempty"`
}

// readChange reads a JSON or YAML file ("-" is stdin).
func (c *cli) readChange(path string) (changeFile, error) {
	var raw []byte
	var err error
	if path == "-" {
		raw, err = io.ReadAll(c.stdin)
	} else {
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return changeFile{}, err
	}
	doc, err := yaml.YAMLToJSON(raw) // JSON is YAML too
	if err != nil {
		return changeFile{}, fmt.Errorf("%s: neither JSON nor YAML: %w", path, err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(doc, &members); err != nil {
		return changeFile{}, fmt.Errorf("%s: not an object: %w", path, err)
	}
	_, hasPatch := members["patch"]
	_, hasSpec := members["spec"]
	if !hasPatch && !hasSpec {
		return changeFile{Patch: doc}, nil
	}
	var ch changeFile
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ch); err != nil {
		return changeFile{}, fmt.Errorf("%s: %w", path, err)
	}
	return ch, nil
}

func (c *cli) requestUpdate(args []string) error {
	fs := newFlags("request update", c.stderr)
	file := fs.String("f", "", "the change: a JSON or YAML file (- for stdin)")
	reason := fs.String("reason", "", "why (or \"reason\" in the file)")
	hard := fs.Bool("hard-update", false, "restart every affected server at once")
	wait := fs.Bool("wait", false, "wait until the change converged, was rejected or failed")
	dryRun := fs.Bool("dry-run", false, "show the plan, file nothing")
	interval := fs.Duration("interval", 2*time.Second, "how often --wait asks")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *file == "" {
		return usage("request update CLUSTER -f FILE")
	}
	ch, err := c.readChange(*file)
	if err != nil {
		return err
	}
	cl, s, err := c.client()
	if err != nil {
		return err
	}
	uid, err := c.clusterUID(cl, pos[0])
	if err != nil {
		return err
	}
	body := map[string]any{"kind": "update", "cluster_uid": uid, "reason": cmpOr(*reason, ch.Reason),
		"hard_update": *hard || ch.HardUpdate}
	if len(ch.Spec) > 0 {
		body["spec"], body["seen_resource_version"] = ch.Spec, ch.SeenResourceVersion
	} else {
		body["patch"] = ch.Patch
	}
	body["dry_run"] = true
	var preview api.Preview
	if _, err := cl.do(c.ctx, "POST", "/requests", body, &preview); err != nil {
		return err
	}
	if *dryRun {
		if s.json {
			return printJSON(c.stdout, preview)
		}
		c.printPlan(preview.ClusterName, preview.Plan, preview.Diff, preview.Risks)
		return nil
	}
	if !s.json {
		c.printPlan(preview.ClusterName, preview.Plan, preview.Diff, preview.Risks)
	}
	delete(body, "dry_run")
	var r api.Request
	if _, err := cl.do(c.ctx, "POST", "/requests", body, &r); err != nil {
		return err
	}
	if !s.json {
		fmt.Fprintf(c.stdout, "\nFiled request %d (%s): %d of %d approvals; %s\n", r.ID, r.State, r.Given, r.Needed, c.requestURL(s, r.ID))
	}
	if *wait {
		return c.wait(cl, s, r.ID, *interval)
	}
	if s.json {
		return printJSON(c.stdout, r)
	}
	return nil
}

func (c *cli) requestURL(s settings, id int64) string {
	return s.url + "/requests/" + strconv.FormatInt(id, 10)
}

// printPlan says what the change will do: the plan first, then the diff.
func (c *cli) printPlan(cluster string, p api.Plan, diff []approvals.Change, risks []api.Risk) {
	fmt.Fprintf(c.stdout, "Plan for %s: %s\n", cluster, p.Headline)
	for _, e := range p.Effects {
		fmt.Fprintf(c.stdout, "  · %s\n", e)
	}
	fmt.Fprintf(c.stdout, "%d to add, %d to change, %d to remove\n", p.Add, p.Change, p.Remove)
	for _, ch := range diff {
		switch {
		case len(ch.Before) == 0:
			fmt.Fprintf(c.stdout, "  + %s = %s\n", ch.Path, ch.After)
		case len(ch.After) == 0:
			fmt.Fprintf(c.stdout, "  - %s (was %s)\n", ch.Path, ch.Before)
		default:
			fmt.Fprintf(c.stdout, "  ~ %s: %s → %s\n", ch.Path, ch.Before, ch.After)
		}
	}
	for _, r := range risks {
		fmt.Fprintf(c.stdout, "  ! %s\n", r.Message)
	}
}

// wait follows request id until it ends, saying each change of state on
// the way, and returns its outcome as the exit status.
func (c *cli) wait(cl *client, s settings, id int64, interval time.Duration) error {
	last := ""
	for {
		var r api.Request
		if _, err := cl.do(c.ctx, "GET", "/requests/"+strconv.FormatInt(id, 10), nil, &r); err != nil {
			return err
		}
		now := fmt.Sprintf("%s, %d of %d approvals", r.State, r.Given, r.Needed)
		if e := r.Execution; e != nil && e.Stages > 0 {
			now += fmt.Sprintf(", stage %d of %d", e.Stage, e.Stages)
		}
		if e := r.Execution; e != nil && e.Reason != "" {
			now += ": " + e.Reason
		}
		if now != last && !s.json {
			fmt.Fprintf(c.stdout, "%s  request %d: %s\n", time.Now().Format("15:04:05"), id, now)
			last = now
		}
		status := -1
		switch r.State {
		case "succeeded":
			status = exitOK
		case "rejected":
			status = exitRejected
		case "failed":
			status = exitFailed
		case "cancelled", "expired":
			status = exitCancelled
		case "stale":
			status = exitStale
		}
		if status >= 0 {
			if s.json {
				if err := printJSON(c.stdout, r); err != nil {
					return err
				}
			}
			if status == exitOK {
				if !s.json {
					fmt.Fprintf(c.stdout, "Request %d converged.\n", id)
				}
				return nil
			}
			return &statusError{status: status, err: fmt.Errorf("request %d ended %s", id, r.State)}
		}
		select {
		case <-c.ctx.Done():
			return c.ctx.Err()
		case <-time.After(interval):
		}
	}
}

func (c *cli) requestID(pos []string, what string) (int64, error) {
	if len(pos) != 1 {
		return 0, usage("%s ID", what)
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(pos[0], "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, usage("%s: %q is not a request number", what, pos[0])
	}
	return id, nil
}

func (c *cli) requestGet(args []string) error {
	fs := newFlags("request get", c.stderr)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := c.requestID(pos, "request get")
	if err != nil {
		return err
	}
	cl, s, err := c.client()
	if err != nil {
		return err
	}
	var r api.Request
	if _, err := cl.do(c.ctx, "GET", "/requests/"+strconv.FormatInt(id, 10), nil, &r); err != nil {
		return err
	}
	if s.json {
		return printJSON(c.stdout, r)
	}
	c.printRequest(s, r)
	return nil
}

func (c *cli) printRequest(s settings, r api.Request) {
	fmt.Fprintf(c.stdout, "Request %d: %s %s · %s · revision %d · by %s, %s\n", r.ID, r.Kind, r.ClusterName, r.State, r.Revision,
		r.Requester.Name, ago(r.CreatedAt))
	fmt.Fprintf(c.stdout, "Reason: %s\n", r.Reason)
	policy := "no policy matches"
	if r.Policy != nil {
		policy = "policy " + r.Policy.Name
	}
	fmt.Fprintf(c.stdout, "Approvals: %d of %d (%s); queue position %d\n", r.Given, r.Needed, policy, r.QueuePosition)
	c.printPlan(r.ClusterName, r.Plan, r.Diff, r.Risks)
	fmt.Fprintln(c.stdout, c.requestURL(s, r.ID))
}

func (c *cli) requestList(args []string) error {
	fs := newFlags("request list", c.stderr)
	mine := fs.Bool("mine", false, "only mine")
	awaiting := fs.Bool("awaiting", false, "only those awaiting my approval")
	cluster := fs.String("cluster", "", "cluster name")
	state := fs.String("state", "", "states, comma-separated")
	limit := fs.Int("limit", 50, "how many (at most 200)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cl, s, err := c.client()
	if err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	if *mine {
		q.Set("mine", "true")
	}
	if *awaiting {
		q.Set("awaiting", "true")
	}
	if *cluster != "" {
		q.Set("cluster", *cluster)
	}
	if *state != "" {
		q.Set("state", *state)
	}
	var page api.RequestPage
	if _, err := cl.do(c.ctx, "GET", "/requests?"+q.Encode(), nil, &page); err != nil {
		return err
	}
	if s.json {
		return printJSON(c.stdout, page.Items)
	}
	rows := [][]string{}
	for _, r := range page.Items {
		rows = append(rows, []string{strconv.FormatInt(r.ID, 10), r.Kind, r.ClusterName, r.State,
			fmt.Sprintf("%d/%d", r.Given, r.Needed), r.Requester.Name, ago(r.CreatedAt)})
	}
	return table(c.stdout, []string{"ID", "KIND", "CLUSTER", "STATE", "APPROVALS", "REQUESTER", "FILED"}, rows)
}

func (c *cli) requestCancel(args []string) error {
	fs := newFlags("request cancel", c.stderr)
	reason := fs.String("reason", "", "why (required to cancel someone else's)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := c.requestID(pos, "request cancel")
	if err != nil {
		return err
	}
	return c.post(id, "cancel", map[string]any{"reason": *reason}, "Cancelled")
}

// decide approves or rejects: it reads the request first, so the
// revision decided is the one shown.
func (c *cli) decide(args []string, action string) error {
	fs := newFlags(action, c.stderr)
	comment := fs.String("comment", "", "a comment (required to reject)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := c.requestID(pos, action)
	if err != nil {
		return err
	}
	cl, s, err := c.client()
	if err != nil {
		return err
	}
	var r api.Request
	header, err := cl.do(c.ctx, "GET", "/requests/"+strconv.FormatInt(id, 10), nil, &r)
	if err != nil {
		return err
	}
	if !s.json {
		c.printRequest(s, r)
	}
	var out api.Request
	if _, err := cl.do(c.ctx, "POST", "/requests/"+strconv.FormatInt(id, 10)+"/"+action, map[string]any{"comment": *comment}, &out,
		"If-Match", header.Get("ETag")); err != nil {
		return err
	}
	if s.json {
		return printJSON(c.stdout, out)
	}
	fmt.Fprintf(c.stdout, "\n%s request %d: now %s, %d of %d approvals\n", map[string]string{"approve": "Approved", "reject": "Rejected"}[action],
		id, out.State, out.Given, out.Needed)
	return nil
}

func (c *cli) approve(args []string) error { return c.decide(args, "approve") }
func (c *cli) reject(args []string) error  { return c.decide(args, "reject") }

func (c *cli) post(id int64, action string, body any, done string) error {
	cl, s, err := c.client()
	if err != nil {
		return err
	}
	var r api.Request
	if _, err := cl.do(c.ctx, "POST", "/requests/"+strconv.FormatInt(id, 10)+"/"+action, body, &r); err != nil {
		return err
	}
	if s.json {
		return printJSON(c.stdout, r)
	}
	fmt.Fprintf(c.stdout, "%s request %d: now %s\n", done, id, r.State)
	return nil
}
