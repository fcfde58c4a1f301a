package cloudapi

import (
	"context"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Observer is told of every HTTP exchange with the API and every token
// request, e.g. to count them (cmd/portal hands it internal/metrics). It
// must be quick and safe for concurrent use; it never sees a token, a
// secret or a body.
type Observer interface {
	// CallDone reports one attempt of op (a retry is another): the HTTP
	// status, 0 when no reply came; the attempt's error, nil for a 2xx
	// read in full; and how long it took.
	CallDone(op Operation, status int, err error, took time.Duration)
	// TokenFetched reports one request to the token endpoint
	// (client-credentials grant): its error, nil when a token came.
	TokenFetched(err error, took time.Duration)
}

type noObserver struct{}

func (noObserver) CallDone(Operation, int, error, time.Duration) {}
func (noObserver) TokenFetched(error, time.Duration)             {}

// observedFetch requests a new token at each Token call and tells the
// observer; oauth2.ReuseTokenSource in front of it caches the token as
// clientcredentials.Config.TokenSource does.
type observedFetch struct {
	conf     *clientcredentials.Config
	ctx      context.Context
	observer Observer
}

func (f observedFetch) Token() (*oauth2.Token, error) {
	start := time.Now()
	tok, err := f.conf.Token(f.ctx)
	f.observer.TokenFetched(err, time.Since(start))
	return tok, err
}
