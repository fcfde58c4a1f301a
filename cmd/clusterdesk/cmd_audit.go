package main

import (
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

func (c *cli) auditExport(args []string) error {
	fs := newFlags("audit export", c.stderr)
	since := fs.String("since", "", "from this time (RFC 3339 or a date)")
	until := fs.String("until", "", "before this time (RFC 3339 or a date)")
	format := fs.String("format", "jsonl", "jsonl or csv")
	action := fs.String("action", "", "actions, comma-separated")
	out := fs.String("out", "", "write to this file instead of stdout")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cl, _, err := c.client()
	if err != nil {
		return err
	}
	q := url.Values{"format": {*format}}
	for k, v := range map[string]string{"from": *since, "to": *until, "action": *action} {
		if v != "" {
			q.Set(k, v)
		}
	}
	resp, err := cl.send(c.ctx, "GET", "/audit/export?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	w := c.stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	return nil
}

// auditVerify checks an export offline (the hashes and links of a JSON
// Lines file, as docs/audit.md does with jq), or, without a file, asks
// the portal to walk its whole chain.
func (c *cli) auditVerify(args []string) error {
	fs := newFlags("audit verify", c.stderr)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usage("audit verify [FILE]")
	}
	if len(pos) == 1 {
		var r io.Reader = c.stdin
		if pos[0] != "-" {
			f, err := os.Open(pos[0])
			if err != nil {
				return err
			}
			defer f.Close()
			r = f
		}
		check, err := audit.VerifyExport(r)
		if err != nil {
			return err
		}
		if c.g.output == "json" {
			return printJSON(c.stdout, check)
		}
		fmt.Fprintln(c.stdout, check.String())
		if !check.OK {
			return &statusError{status: exitError, err: fmt.Errorf("the export does not verify")}
		}
		return nil
	}
	cl, s, err := c.client()
	if err != nil {
		return err
	}
	var res audit.Result
	if _, err := cl.do(c.ctx, "POST", "/audit/verify", nil, &res); err != nil {
		return err
	}
	if s.json {
		return printJSON(c.stdout, res)
	}
	fmt.Fprintln(c.stdout, res.String())
	if !res.OK {
		return &statusError{status: exitError, err: fmt.Errorf("the audit log's chain is broken")}
	}
	return nil
}
