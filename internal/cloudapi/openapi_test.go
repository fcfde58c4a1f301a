package cloudapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// The contract in docs/cloud-manager-api/openapi.yaml is checked on every
// request the client sends and every reply it gets, by a RoundTripper that
// fails the test on any mismatch.

const openAPIFile = "../../docs/cloud-manager-api/openapi.yaml"

var (
	openAPIOnce sync.Once
	openAPIDoc  []byte
	openAPIErr  error
)

// loadOpenAPI parses the contract, serving the API at apiURL.
func loadOpenAPI(t testing.TB, apiURL string) routers.Router {
	t.Helper()
	openAPIOnce.Do(func() {
		// Formats the contract uses that kin-openapi checks only on request.
		openapi3.DefineIPv4Format()
		openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562))
		openAPIDoc, openAPIErr = os.ReadFile(openAPIFile)
	})
	if openAPIErr != nil {
		t.Fatalf("read %s: %v", openAPIFile, openAPIErr)
	}
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDoc)
	if err != nil {
		t.Fatalf("load %s: %v", openAPIFile, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", openAPIFile, err)
	}
	doc.Servers = openapi3.Servers{{URL: strings.TrimRight(apiURL, "/")}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("route %s: %v", openAPIFile, err)
	}
	return router
}

// openAPIValidator checks API traffic against the contract. Requests that
// are not below the API URL (the token endpoint) pass unchecked.
type openAPIValidator struct {
	t      testing.TB
	base   http.RoundTripper
	router routers.Router
	apiURL string
}

func newOpenAPIValidator(t testing.TB, apiURL string, base http.RoundTripper) *openAPIValidator {
	if base == nil {
		base = http.DefaultTransport
	}
	return &openAPIValidator{t: t, base: base, router: loadOpenAPI(t, apiURL), apiURL: strings.TrimRight(apiURL, "/")}
}

var validationOptions = &openapi3filter.Options{
	IncludeResponseStatus: true,
	SkipSettingDefaults:   true,
	MultiError:            true,
	AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
			return errors.New("no bearer token")
		}
		return nil
	},
}

// invalidOnPurpose marks the context of a call whose request breaks the
// contract on purpose, to see the service reject it; its reply is still
// checked.
type invalidOnPurpose struct{}

func sendingInvalid(ctx context.Context) context.Context {
	return context.WithValue(ctx, invalidOnPurpose{}, true)
}

func (v *openAPIValidator) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.String(), v.apiURL+"/") {
		return v.base.RoundTrip(req)
	}
	what := req.Method + " " + req.URL.RequestURI()
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		v.t.Errorf("openapi: %s is not a documented route: %v", what, err)
		return v.base.RoundTrip(req)
	}

	// Validate a copy, so that the request sent keeps its own body.
	checked := req.Clone(req.Context())
	if req.GetBody != nil {
		if checked.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	input := &openapi3filter.RequestValidationInput{Request: checked, PathParams: params, Route: route, Options: validationOptions}
	if err := openapi3filter.ValidateRequest(req.Context(), input); err != nil && req.Context().Value(invalidOnPurpose{}) == nil {
		v.t.Errorf("openapi: request %s breaks the contract: %v", what, err)
	}

	resp, err := v.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	// A gateway error or rate limit may come from any HTTP service; the
	// contract describes only the statuses the API itself gives.
	if route.Operation.Responses.Status(resp.StatusCode) == nil && (resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests) {
		return resp, nil
	}
	err = openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                validationOptions,
	})
	if err != nil {
		v.t.Errorf("openapi: reply %d to %s breaks the contract: %v\nbody: %.2000s", resp.StatusCode, what, err, body)
	}
	return resp, nil
}
