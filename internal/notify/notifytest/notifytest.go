// Package notifytest holds the real receivers notification tests send to:
// an SMTP server (emersion/go-smtp) that keeps every message, and an HTTP
// webhook receiver that checks every request's signature with a Standard
// Webhooks verifier written from the specification's text, apart from the
// portal's own signing code.
package notifytest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mailbox is a real SMTP server that keeps every message it accepts. It
// accepts PLAIN authentication as Username and Password.
type Mailbox struct {
	Addr   string
	server *smtp.Server
	mu     sync.Mutex
	mail   []Mail
}

// The credentials a Mailbox accepts.
const (
	Username = "clusterdesk"
	Password = "s3cret"
)

// Mail is one message as received.
type Mail struct {
	From string
	To   []string
	Data string
}

// Subject is the message's Subject header as sent (not decoded).
func (m Mail) Subject() string {
	for line := range strings.SplitSeq(m.Data, "\r\n") {
		if s, ok := strings.CutPrefix(line, "Subject: "); ok {
			return s
		}
		if line == "" {
			break
		}
	}
	return ""
}

// StartMailbox serves SMTP on addr ("" picks a port) until the test ends;
// with a certificate it offers STARTTLS.
func StartMailbox(t testing.TB, addr string, certs ...tls.Certificate) *Mailbox {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("notifytest: %v", err)
	}
	m := &Mailbox{Addr: l.Addr().String()}
	m.server = smtp.NewServer(m)
	m.server.Domain = "localhost"
	m.server.AllowInsecureAuth = true
	if len(certs) > 0 {
		m.server.TLSConfig = &tls.Config{Certificates: certs}
	}
	go func() { _ = m.server.Serve(l) }()
	t.Cleanup(func() { _ = m.server.Close() })
	return m
}

// NewSession is go-smtp's Backend.
func (m *Mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{box: m}, nil }

// All returns every message received.
func (m *Mailbox) All() []Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.mail)
}

// To returns the messages received for address.
func (m *Mailbox) To(address string) []Mail {
	var out []Mail
	for _, r := range m.All() {
		if slices.Contains(r.To, address) {
			out = append(out, r)
		}
	}
	return out
}

// Subjects returns the Subject lines of the messages to address.
func (m *Mailbox) Subjects(address string) []string {
	var out []string
	for _, r := range m.To(address) {
		out = append(out, r.Subject())
	}
	return out
}

type session struct {
	box *Mailbox
	msg Mail
}

func (s *session) AuthMechanisms() []string { return []string{"PLAIN"} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != Username || password != Password {
			return smtp.ErrAuthFailed
		}
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.msg.From = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.To = append(s.msg.To, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = string(b)
	s.box.mu.Lock()
	s.box.mail = append(s.box.mail, s.msg)
	s.box.mu.Unlock()
	s.msg = Mail{}
	return nil
}
func (s *session) Reset()        { s.msg = Mail{} }
func (s *session) Logout() error { return nil }

// VerifyStandardWebhook checks a request as the Standard Webhooks
// specification ("Verifying webhooks") describes, written from its text
// and not from notify.Sign: the signed content is "{webhook-id}.{webhook-
// timestamp}.{body}", the key is the base64 after "whsec_",
// webhook-signature is a space-delimited list of "v1,{base64 HMAC-SHA256}"
// of which one must match, and the timestamp must be within five minutes
// of now.
func VerifyStandardWebhook(secret string, header http.Header, body []byte) error {
	id, ts, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook headers")
	}
	seconds, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("bad timestamp")
	}
	if d := time.Since(time.Unix(seconds, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp outside tolerance")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	signer := hmac.New(sha256.New, key)
	signer.Write([]byte(id + "." + ts + "." + string(body)))
	want := signer.Sum(nil)
	for _, versioned := range strings.Fields(sigs) {
		version, sig, found := strings.Cut(versioned, ",")
		if !found || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

// Receiver is an HTTP endpoint that keeps every request, verifies its
// signature when it has a secret (answering 401 when it does not
// verify), and answers 500 to the first Failures ones.
type Receiver struct {
	*httptest.Server
	mu       sync.Mutex
	secret   string
	failures int
	headers  []http.Header
	bodies   [][]byte
	verified int
	accepted int
}

// NewReceiver starts a receiver until the test ends.
func NewReceiver(t testing.TB, secret string, failures int) *Receiver {
	t.Helper()
	r := &Receiver{secret: secret, failures: failures}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.headers = append(r.headers, req.Header.Clone())
		r.bodies = append(r.bodies, body)
		if r.secret != "" {
			if err := VerifyStandardWebhook(r.secret, req.Header, body); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			r.verified++
		}
		if len(r.headers) <= r.failures {
			http.Error(w, "try again later", http.StatusInternalServerError)
			return
		}
		r.accepted++
	}))
	t.Cleanup(r.Close)
	return r
}

// SetSecret changes the secret requests are verified with.
func (r *Receiver) SetSecret(secret string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = secret
}

// SetFailures changes how many of the first requests fail.
func (r *Receiver) SetFailures(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = n
}

// Counts are the requests received, those whose signature verified, and
// those answered 2xx.
func (r *Receiver) Counts() (calls, verified, accepted int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.headers), r.verified, r.accepted
}

// Requests returns the headers and bodies received, oldest first.
func (r *Receiver) Requests() ([]http.Header, [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.headers), slices.Clone(r.bodies)
}
