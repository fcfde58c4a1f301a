// Package pglocal runs a private PostgreSQL server from the system's binaries,
// for `portal dev` and for tests. It needs no installation beyond the server
// packages: the cluster is created with initdb on first use and kept in a data
// folder that survives restarts.
//
// As root, PostgreSQL refuses to run; the server then runs as the `postgres`
// user (like `runuser -u postgres --`) and the data folder is handed to it.
package pglocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options describe the server to run.
type Options struct {
	// DataDir holds the cluster; created with initdb when empty.
	DataDir string
	// Port to listen on at 127.0.0.1; 0 picks a free one.
	Port int
	// Durable keeps fsync on. Tests turn it off: their data is thrown away.
	Durable bool
	// BinDir holds initdb and postgres; empty finds them (see FindBinDir).
	BinDir string
	// Log receives the server's own output; nil discards it.
	Log io.Writer
}

// Server is a running PostgreSQL server owned by this process.
type Server struct {
	opts Options
	cmd  *exec.Cmd
	done chan struct{}
}

// Start creates the cluster if needed and starts the server, waiting until it
// accepts connections. A server left running by an earlier process that was
// killed is asked to stop first; a stale postmaster.pid is removed.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.BinDir == "" {
		dir, err := FindBinDir()
		if err != nil {
			return nil, err
		}
		opts.BinDir = dir
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pglocal: %w", err)
	}
	opts.DataDir = dataDir
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	if err := initCluster(ctx, opts, cred); err != nil {
		return nil, err
	}
	if err := clearLeftovers(ctx, opts.DataDir); err != nil {
		return nil, err
	}
	if opts.Port == 0 {
		if opts.Port, err = freePort(); err != nil {
			return nil, err
		}
	}

	args := []string{
		"-D", opts.DataDir,
		"-p", strconv.Itoa(opts.Port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + opts.DataDir,
		"-c", "max_connections=200",
	}
	if !opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(opts.BinDir, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = opts.Log, opts.Log
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group: a terminal's Ctrl-C reaches us, and we stop
		// the server in order, instead of both racing to shut down.
		Setpgid: true,
		// If this process dies without cleaning up (kill -9), the kernel asks
		// the server to shut down: no postgres is left behind.
		Pdeathsig:  syscall.SIGTERM,
		Credential: cred,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pglocal: start postgres: %w", err)
	}
	s := &Server{opts: opts, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()

	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// URL is a connection string for database name on this server.
func (s *Server) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.opts.Port, database)
}

// Port is the TCP port the server listens on.
func (s *Server) Port() int { return s.opts.Port }

// Stop shuts the server down (fast mode: open sessions are ended) and waits
// for it to exit.
func (s *Server) Stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
		return nil
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("pglocal: postgres did not stop within 30s; killed")
	}
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-s.done:
			return fmt.Errorf("pglocal: postgres exited during start-up (see its log): %w", err)
		case <-ctx.Done():
			return fmt.Errorf("pglocal: postgres not ready: %w", err)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// FindBinDir locates the PostgreSQL server binaries: the Debian location of
// version 15, then any version there, then `pg_config --bindir`.
func FindBinDir() (string, error) {
	candidates := []string{"/usr/lib/postgresql/15/bin"}
	if more, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(more) > 0 {
		candidates = append(candidates, more...)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	for _, dir := range candidates {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("pglocal: no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin and pg_config --bindir); install the postgresql package")
}

// serverUser is the identity the server runs as: ourselves, or the postgres
// user when we are root.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pglocal: running as root needs a 'postgres' user to run the server: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func initCluster(ctx context.Context, opts Options, cred *syscall.Credential) error {
	if _, err := os.Stat(filepath.Join(opts.DataDir, "PG_VERSION")); err == nil {
		return nil
	}
	// Parents made here stay searchable: the server's user must pass them.
	if err := os.MkdirAll(filepath.Dir(opts.DataDir), 0o755); err != nil {
		return fmt.Errorf("pglocal: %w", err)
	}
	if err := os.Mkdir(opts.DataDir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("pglocal: %w", err)
	}
	if cred != nil {
		if err := os.Chown(opts.DataDir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("pglocal: hand %s to the postgres user: %w", opts.DataDir, err)
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(opts.BinDir, "initdb"),
		"-D", opts.DataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		hint := ""
		if cred != nil {
			hint = " (the postgres user must be able to reach every parent folder of " + opts.DataDir + "; /root is not reachable)"
		}
		return fmt.Errorf("pglocal: initdb failed%s: %w\n%s", hint, err, out.String())
	}
	return nil
}

// clearLeftovers deals with the postmaster.pid of an earlier run: a server
// still shutting down (its parent was killed) is waited for, one still
// running is stopped, and a pid file naming a process that is not postgres is
// removed.
func clearLeftovers(ctx context.Context, dataDir string) error {
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	raw, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pglocal: %w", err)
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(raw), "\n", 2)[0])
	if pid <= 0 || !isPostgres(pid) {
		return os.Remove(pidFile)
	}
	// A server whose parent died is already shutting down: give it a moment,
	// then ask it to stop.
	if !waitGone(ctx, pid, 2*time.Second) {
		_ = syscall.Kill(pid, syscall.SIGINT)
		if !waitGone(ctx, pid, 30*time.Second) {
			return fmt.Errorf("pglocal: a postgres (pid %d) still runs on %s and did not stop", pid, dataDir)
		}
	}
	if _, err := os.Stat(pidFile); err == nil {
		return os.Remove(pidFile)
	}
	return nil
}

func waitGone(ctx context.Context, pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for isPostgres(pid) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

func isPostgres(pid int) bool {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err == nil && strings.HasPrefix(strings.TrimSpace(string(comm)), "postgres")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pglocal: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
