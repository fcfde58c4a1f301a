package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// The mail catcher of `portal dev`: Mailpit, pinned in go.mod as a tool
// (github.com/axllent/mailpit), built once into the data folder and run as
// a child process. The portal's SMTP points at it; its web UI and API show
// every message sent.
const (
	devMailSMTP   = "127.0.0.1:1025"
	devMailWeb    = "127.0.0.1:8025"
	mailpitModule = "github.com/axllent/mailpit"
)

var devMailDefaults = map[string]string{
	"PORTAL_SMTP_HOST": "127.0.0.1",
	"PORTAL_SMTP_PORT": "1025",
	"PORTAL_SMTP_TLS":  "none",
	"PORTAL_SMTP_FROM": "Clusterdesk <clusterdesk@localhost>",
}

// startMailpit builds Mailpit into dataDir/bin when it is not there (go
// build, from the checkout: the version go.mod pins) and runs it with its
// database in dataDir, SMTP on smtpAddr and its web UI and API on webAddr,
// until stop. It returns once both answer.
func startMailpit(ctx context.Context, dataDir, smtpAddr, webAddr string, stdout, stderr io.Writer) (stop func(), err error) {
	bin, err := filepath.Abs(filepath.Join(dataDir, "bin", "mailpit"))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stdout, "portal dev: building Mailpit (%s, pinned in go.mod) into %s, once\n", mailpitModule, bin)
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, mailpitModule)
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("build Mailpit (run portal dev from the checkout, with Go installed, or pass -mail=false): %w", err)
		}
	}
	log, err := os.OpenFile(filepath.Join(dataDir, "mailpit.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--smtp", smtpAddr, "--listen", webAddr,
		"--database", filepath.Join(dataDir, "mailpit.db"), "--smtp-auth-accept-any", "--smtp-auth-allow-insecure")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start Mailpit: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		log.Close()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			log.Close()
			return nil, fmt.Errorf("mailpit exited at start (see %s): %v", log.Name(), err)
		default:
		}
		if mailpitReady(smtpAddr, webAddr) {
			return stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("mailpit did not answer on %s within 30 s (see %s)", webAddr, log.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mailpitReady(smtpAddr, webAddr string) bool {
	c, err := net.DialTimeout("tcp", smtpAddr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + webAddr + "/api/v1/info")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
