package execution

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// The outcomes of an attempt, as submission_attempts records them.
const (
	// OutcomeAccepted: the API took the change (or, for a delete, the
	// cluster is already gone).
	OutcomeAccepted = "accepted"
	// OutcomeBusy (409) and OutcomeRateLimited (429) changed nothing and
	// cost no budget.
	OutcomeBusy        = "busy"
	OutcomeRateLimited = "rate_limited"
	// OutcomeRejected: any other 4xx; final.
	OutcomeRejected = "rejected"
	// OutcomeUnknown: a 5xx, a timeout, a connection error, or a process
	// that died mid-call: the change may or may not have been applied.
	OutcomeUnknown = "unknown"
)

// attempt is one recorded call and its answer.
type attempt struct {
	call
	number int
	digest [32]byte

	reply  *cloudapi.Cluster
	err    error
	status int
	took   time.Duration
}

// newAttempt is attempt n of c, with the digest of what it sends (method,
// path and body).
func newAttempt(c call, n int) *attempt {
	a := &attempt{call: c, number: n}
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", c.method, c.path)
	h.Write(c.body)
	copy(a.digest[:], h.Sum(nil))
	return a
}

func (a *attempt) run(ctx context.Context, api API) {
	start := time.Now()
	a.reply, a.err = a.do(ctx, api)
	a.took = time.Since(start)
	switch apiErr, ok := errors.AsType[*cloudapi.APIError](a.err); {
	case a.err == nil:
		a.status = http.StatusOK // the client returns only on 2xx
	case ok:
		a.status = apiErr.StatusCode
	}
}

// outcome classifies the answer (see the Outcome constants); k decides
// whether a 404 means done.
func (a *attempt) outcome(k kind) string {
	apiErr, isAPI := errors.AsType[*cloudapi.APIError](a.err)
	switch {
	case a.err == nil:
		return OutcomeAccepted
	case k.notFoundIsDone && cloudapi.IsNotFound(a.err):
		return OutcomeAccepted
	case cloudapi.IsBusy(a.err):
		return OutcomeBusy
	case isAPI && apiErr.StatusCode == http.StatusTooManyRequests:
		return OutcomeRateLimited
	case isAPI && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500 && apiErr.StatusCode != http.StatusRequestTimeout:
		return OutcomeRejected
	default:
		return OutcomeUnknown
	}
}

// bodyDigest is the SHA-256 of the answer as the client decoded it (the
// cluster, or the API's error), nil without an answer.
func (a *attempt) bodyDigest() []byte {
	var v any
	switch apiErr, ok := errors.AsType[*cloudapi.APIError](a.err); {
	case a.err == nil && a.reply != nil:
		v = a.reply
	case a.err == nil:
		v = struct{}{}
	case ok:
		v = apiErr
	default:
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(raw)
	return sum[:]
}

func (a *attempt) errText() string {
	if a.err == nil {
		return ""
	}
	return a.err.Error()
}
