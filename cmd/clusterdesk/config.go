package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// globals are the flags before the command.
type globals struct {
	url, tokenEnv, config, output string
}

// settings are what every command needs: where the portal is and the token.
type settings struct {
	url, token string
	json       bool
}

// fileConfig is the config file.
type fileConfig struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// load resolves the settings: flags, then the environment, then the file.
// The token is never taken from a flag, which would show in the process
// list and the shell's history.
func (g globals) load(env func(string) (string, bool)) (settings, error) {
	s := settings{url: g.url, json: g.output == "json"}
	if g.output != "table" && g.output != "json" {
		return s, usage("-o is table or json, not %q", g.output)
	}
	if s.url == "" {
		s.url, _ = env("CLUSTERDESK_URL")
	}
	s.token, _ = env(g.tokenEnv)
	path := g.config
	if path == "" {
		if dir, ok := env("XDG_CONFIG_HOME"); ok && dir != "" {
			path = filepath.Join(dir, "clusterdesk", "config.json")
		} else if home, ok := env("HOME"); ok && home != "" {
			path = filepath.Join(home, ".config", "clusterdesk", "config.json")
		}
	}
	if path != "" && (s.url == "" || s.token == "") {
		raw, err := os.ReadFile(path)
		switch {
		case err == nil:
			var fc fileConfig
			if err := json.Unmarshal(raw, &fc); err != nil {
				return s, fmt.Errorf("config file %s: %w", path, err)
			}
			if s.url == "" {
				s.url = fc.URL
			}
			if s.token == "" {
				s.token = fc.Token
			}
		case !errors.Is(err, os.ErrNotExist) || g.config != "":
			return s, fmt.Errorf("config file: %w", err)
		}
	}
	s.url = strings.TrimRight(s.url, "/")
	if s.url == "" {
		return s, usage("no portal URL: set CLUSTERDESK_URL, --url or a config file")
	}
	if s.token == "" {
		return s, usage("no token: set %s or a config file (make one on the portal's Tokens page)", g.tokenEnv)
	}
	return s, nil
}

// newFlags returns a flag set that prints its usage to w.
func newFlags(name string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	return fs
}

// parse parses args, allowing flags after the positional arguments
// (clusterdesk approve 42 --comment ok).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, usage("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}
