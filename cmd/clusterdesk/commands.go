package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/api"
)

// cli is one run of the program.
type cli struct {
	ctx            context.Context
	env            func(string) (string, bool)
	stdin          io.Reader
	stdout, stderr io.Writer
	g              globals
}

func dispatch(ctx context.Context, args []string, env func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) error {
	c := &cli{ctx: ctx, env: env, stdin: stdin, stdout: stdout, stderr: stderr}
	fs := newFlags("clusterdesk", stderr)
	fs.StringVar(&c.g.url, "url", "", "the portal's URL (CLUSTERDESK_URL)")
	fs.StringVar(&c.g.tokenEnv, "token-env", "CLUSTERDESK_TOKEN", "the environment variable holding the token")
	fs.StringVar(&c.g.config, "config", "", "a config file {\"url\", \"token\"}")
	fs.StringVar(&c.g.output, "o", "table", "table or json")
	fs.Usage = func() { fmt.Fprintf(stdout, usageText, version) }
	if err := fs.Parse(args); err != nil {
		if err.Error() == "flag: help requested" {
			return errHelp
		}
		return usage("%v", err)
	}
	args = fs.Args()
	if len(args) == 0 || args[0] == "help" {
		fmt.Fprintf(stdout, usageText, version)
		return nil
	}
	if args[0] == "version" {
		fmt.Fprintln(stdout, "clusterdesk", version)
		return nil
	}
	commands := map[string]func([]string) error{
		"clusters list":  c.clustersList,
		"clusters get":   c.clustersGet,
		"request update": c.requestUpdate,
		"request get":    c.requestGet,
		"request list":   c.requestList,
		"request cancel": c.requestCancel,
		"approve":        c.approve,
		"reject":         c.reject,
		"audit export":   c.auditExport,
		"audit verify":   c.auditVerify,
	}
	if run, ok := commands[args[0]]; ok {
		return run(args[1:])
	}
	if len(args) > 1 {
		if run, ok := commands[args[0]+" "+args[1]]; ok {
			return run(args[2:])
		}
	}
	return usage("unknown command %q", strings.Join(args[:min(2, len(args))], " "))
}

// client returns the API client, from the settings.
func (c *cli) client() (*client, settings, error) {
	s, err := c.g.load(c.env)
	if err != nil {
		return nil, s, err
	}
	return newClient(s), s, nil
}

func (c *cli) clustersList(args []string) error {
	fs := newFlags("clusters list", c.stderr)
	name := fs.String("name", "", "names containing this")
	env := fs.String("environment", "", "environment")
	state := fs.String("state", "", "state")
	all := fs.Bool("all", false, "every page, not just the first")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cl, s, err := c.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"name": *name, "environment": *env, "state": *state} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var items []api.ClusterSummary
	for {
		var page api.ClusterPage
		if _, err := cl.do(c.ctx, "GET", "/clusters?"+q.Encode(), nil, &page); err != nil {
			return err
		}
		items = append(items, page.Items...)
		if !*all || page.Next == "" {
			break
		}
		q.Set("after", page.Next)
	}
	if s.json {
		return printJSON(c.stdout, items)
	}
	rows := make([][]string, 0, len(items))
	for _, it := range items {
		rows = append(rows, []string{it.Name, it.State, it.Environment, it.Version, strconv.Itoa(it.Servers), strconv.FormatInt(it.ResourceVersion, 10), it.UID})
	}
	return table(c.stdout, []string{"NAME", "STATE", "ENVIRONMENT", "VERSION", "SERVERS", "RESOURCE VERSION", "UID"}, rows)
}

// clusterUID resolves a cluster named by uid or by its exact name.
func (c *cli) clusterUID(cl *client, ref string) (string, error) {
	var page api.ClusterPage
	if _, err := cl.do(c.ctx, "GET", "/clusters?"+url.Values{"name": {ref}, "limit": {"200"}}.Encode(), nil, &page); err != nil {
		return "", err
	}
	var found []string
	for _, it := range page.Items {
		if it.Name == ref || it.UID == ref {
			found = append(found, it.UID)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return ref, nil // perhaps a uid: the API says if not
	}
	return "", fmt.Errorf("%d clusters are named %q; give the uid", len(found), ref)
}

func (c *cli) clustersGet(args []string) error {
	fs := newFlags("clusters get", c.stderr)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usage("clusters get CLUSTER")
	}
	cl, s, err := c.client()
	if err != nil {
		return err
	}
	uid, err := c.clusterUID(cl, pos[0])
	if err != nil {
		return err
	}
	var d api.ClusterDetail
	if _, err := cl.do(c.ctx, "GET", "/clusters/"+url.PathEscape(uid), nil, &d); err != nil {
		return err
	}
	if s.json {
		return printJSON(c.stdout, d)
	}
	fmt.Fprintf(c.stdout, "%s (%s)\nstate %s · environment %s · team %s · resource version %d · synced %s\n",
		d.Name, d.UID, d.State, d.Environment, d.Team, d.ResourceVersion, ago(d.SyncedAt))
	if len(d.Servers) > 0 {
		fmt.Fprintln(c.stdout, "\nServers:")
		rows := [][]string{}
		for _, sv := range d.Servers {
			rows = append(rows, []string{sv.InstanceID, string(sv.NodeType), sv.InstanceType, sv.State})
		}
		_ = table(c.stdout, []string{"INSTANCE", "NODE TYPE", "INSTANCE TYPE", "STATE"}, rows)
	}
	if len(d.Events) > 0 {
		fmt.Fprintln(c.stdout, "\nRecent events:")
		for _, e := range d.Events[:min(10, len(d.Events))] {
			fmt.Fprintf(c.stdout, "  %s  %s  %s\n", ago(e.At), e.Level, e.Message)
		}
	}
	return nil
}
