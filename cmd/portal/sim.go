package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

const simUsage = `Runs the Cloud Manager API simulator alone, for demos, load tests and other
tools. It serves the API under /api/v1, a client-credentials token endpoint,
and the fault-injection and call-log endpoints under /_sim (see
internal/cloudapi/sim/doc.go). Never expose it to untrusted networks.`

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
	if err := parse(fs, args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	s, stop, err := startSim(*addr, sim.Config{
		StateFile: *state, SeedDemo: *seed, StageDuration: *stage,
		Logger: logger.With("component", "sim"),
	}, logger)
	if err != nil {
		return err
	}
	defer stop()
	base := "http://" + *addr
	fmt.Fprintf(stdout, "portal sim: API %s\nportal sim: token URL %s (client %s / %s)\n",
		s.APIURL(base), s.TokenURL(base), simClientID, simClientSecret)
	<-ctx.Done()
	return nil
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
