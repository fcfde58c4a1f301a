package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

const simUsage = `Runs the Cloud Manager API simulator alone, for demos, load tests and other
tools. It serves the API under /api/v1, a client-credentials token endpoint,
and the fault-injection and call-log endpoints under /_sim (see
internal/cloudapi/sim/doc.go). Never expose it to untrusted networks.

By default it is strict: every inferred rule is on and a server restarts only
on -restart-route. -strict=false switches every inferred rule off and serves
the two restart aliases too; -rules and -restart-aliases then adjust either
(e.g. -strict=false -rules master-ha=on). The other switches make it
contradict a client's assumptions: -running-state RUNNING, -fill-defaults.
docs/cloud-manager-api/BEHAVIOUR.md §13 lists every switch.`

// Development credentials of the simulator's OAuth client: not secrets, the
// simulator only ever runs locally.
const (
	simClientID     = "clusterdesk"
	simClientSecret = "clusterdesk-sim-secret"
	simOrg          = "clusterdesk"
)

func runSim(ctx context.Context, args []string, env lookupFunc, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim [flags]", simUsage, stdout)
	addr := fs.String("addr", "127.0.0.1:8081", "address to listen on")
	state := fs.String("state", "", "JSON file that keeps clusters across restarts (empty: in memory)")
	seed := fs.Bool("seed", true, "create demo clusters when there is no saved state")
	stage := fs.Duration("stage", 3*time.Second, "how long each stage of a change takes")
	strict := fs.Bool("strict", true, "every inferred rule on and no restart aliases; false: every rule off and the aliases served")
	rules := fs.String("rules", "", "rule switches applied after -strict, comma-separated name=off or name=on; rules: "+simRuleNames())
	runningState := fs.String("running-state", string(cloudapi.StateStarted), "status.state of a running cluster, e.g. RUNNING")
	healthyStatus := fs.String("healthy-status", string(cloudapi.HealthOK), "status.status of a healthy cluster")
	restartRoute := fs.String("restart-route", sim.DefaultRestartRoute, `the one route that restarts a server, "METHOD /path" below /api/v1 with {clusterId} and {instanceId}`)
	restartAliases := fs.Bool("restart-aliases", false, "also restart on POST and DELETE /clusters/{clusterId}/servers/{instanceId} (default: true with -strict=false)")
	fillDefaults := fs.Bool("fill-defaults", false, "store specs with defaults the client did not send (desiredState, encryptVolumes, backupRetention, instance types)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switches := *rules
	aliases := !*strict
	if !*strict {
		switches = "all=off," + switches
	}
	if flagGiven(fs, "restart-aliases") {
		aliases = *restartAliases
	}
	disabled, err := sim.ParseRules(switches)
	if err != nil {
		return usageError{"-rules: " + err.Error()}
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	s, stop, err := startSim(*addr, sim.Config{
		StateFile: *state, SeedDemo: *seed, StageDuration: *stage,
		DisabledRules:  disabled,
		RestartRoute:   *restartRoute,
		RestartAliases: aliases,
		RunningState:   cloudapi.ClusterState(*runningState),
		HealthyStatus:  cloudapi.HealthStatus(*healthyStatus),
		FillDefaults:   *fillDefaults,
		Logger:         logger.With("component", "sim"),
	}, logger)
	if err != nil {
		return err
	}
	defer stop()
	base := "http://" + *addr
	fmt.Fprintf(stdout, "portal sim: API %s\nportal sim: token URL %s (client %s / %s)\n",
		s.APIURL(base), s.TokenURL(base), simClientID, simClientSecret)
	off := "none"
	if len(disabled) > 0 {
		off = fmt.Sprint(disabled)
	}
	fmt.Fprintf(stdout, "portal sim: restart route %q (aliases %t), running state %s, fill defaults %t, rules off: %s\n",
		*restartRoute, aliases, *runningState, *fillDefaults, off)
	<-ctx.Done()
	return nil
}

// simRuleNames lists the simulator's rules for the help text.
func simRuleNames() string {
	names := make([]string, len(sim.Rules()))
	for i, r := range sim.Rules() {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// flagGiven reports whether the command line set the flag name.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// startSim serves a simulator on addr with the development credentials and
// returns a function that stops it and saves its state.
func startSim(addr string, cfg sim.Config, logger *slog.Logger) (*sim.Server, func(), error) {
	cfg.ClientID, cfg.ClientSecret, cfg.Org = simClientID, simClientSecret, simOrg
	s, err := sim.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = s.Close()
		return nil, nil, fmt.Errorf("simulator: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("simulator stopped", "err", err)
		}
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := s.Close(); err != nil {
			logger.Error("simulator: save state", "err", err)
		}
	}
	return s, stop, nil
}
