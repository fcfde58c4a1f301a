package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	apidoc "github.com/clusterdesk/clusterdesk/api"
	"github.com/clusterdesk/clusterdesk/internal/api"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/auth"
)

// The JSON API's tests run against the real router (the pages and the API
// on one echo, as portal serve wires them), the simulator with its dry
// runs, and the development identity provider. Every call of apiEnv.call
// goes through a RoundTripper that validates the request and the response
// against api/openapi.json and notes the operation, so that the contract
// test can tell which operations were exercised.

// apiEnv is the spec fixture with the API mounted.
type apiEnv struct {
	*decideFixture
	api    *api.Server
	client *http.Client
	// validator checks traffic and counts the operations called.
	validator *apiValidator
}

type apiEnvOptions struct {
	// rate is the API's calls a minute per person (0: no limit).
	rate int
	// audience takes the provider's tokens for this audience (machines).
	audience string
	// governed wires the team rules and two teams (govern).
	governed bool
}

func newAPIEnv(t *testing.T, opts apiEnvOptions) *apiEnv {
	t.Helper()
	f := newSpecFixture(t, true)
	if opts.governed {
		govern(t, f)
	}
	if opts.audience != "" {
		var err error
		f.auth, err = auth.New(t.Context(), f.pool, auth.Config{
			Issuer: f.idp.Issuer(), ClientID: testClientID, ClientSecret: testClientSecret, BaseURL: f.url,
			Roles: f.auth.Roles(), Now: f.clock.Now, APIAudience: opts.audience,
		})
		require.NoError(t, err)
		f.server.deps.Auth = f.auth
	}
	rate := opts.rate
	if rate == 0 {
		rate = -1
	}
	env := &apiEnv{decideFixture: f}
	env.api = api.New(api.Deps{DB: f.pool, Auth: f.auth, Approvals: f.service, Inventory: f.syncer, Cloud: f.client,
		RatePerMinute: rate, Now: f.clock.Now})
	f.server.deps.API = env.api
	env.api.Mount(f.server.echo.Group(APIPrefix))
	env.validator = newAPIValidator(t, f.url+APIPrefix)
	env.client = &http.Client{Transport: env.validator, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return env
}

// token signs username in once (so the portal knows their groups) and
// makes them a personal access token with scopes.
func (env *apiEnv) token(username string, scopes ...auth.Scope) (string, auth.Token) {
	env.t.Helper()
	_, id := env.signedIn(username)
	if len(scopes) == 0 {
		scopes = auth.Scopes()
	}
	secret, tok, err := env.auth.CreateToken(env.t.Context(), auth.User{ID: id, Username: username}, auth.NewToken{
		Name: username + "-ci", Scopes: scopes, Lifetime: 30 * 24 * time.Hour}, audit.Origin{IP: "192.0.2.9"})
	require.NoError(env.t, err)
	return secret, tok
}

// apiResponse is an API answer, read whole.
type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r apiResponse) decode(t *testing.T, into any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, into), string(r.body))
}

// problem decodes a problem document, checking its media type.
func (r apiResponse) problem(t *testing.T) api.Problem {
	t.Helper()
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"), string(r.body))
	var p api.Problem
	r.decode(t, &p)
	require.Equal(t, r.status, p.Status)
	return p
}

// call sends method path (below /api/v1) with token as the bearer (none
// when empty) and body as JSON (none when nil); header holds name, value
// pairs.
func (env *apiEnv) call(token, method, path string, body any, header ...string) apiResponse {
	env.t.Helper()
	var rd io.Reader
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			env.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(env.t.Context(), method, env.url+APIPrefix+path, rd)
	require.NoError(env.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := env.client.Do(req)
	require.NoError(env.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(env.t, err)
	return apiResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// apiValidator checks every call against the OpenAPI document and notes
// the operations called.
type apiValidator struct {
	t      testing.TB
	router routers.Router
	doc    *openapi3.T
	mu     sync.Mutex
	called map[string]bool
}

var registerJSONLines sync.Once

// loadAPIDocument parses and validates api/openapi.json, served at base.
func loadAPIDocument(t testing.TB, base string) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(apidoc.OpenAPI)
	require.NoError(t, err, "api/openapi.json does not parse")
	require.NoError(t, doc.Validate(context.Background()), "api/openapi.json is not a valid OpenAPI document")
	require.True(t, doc.IsOpenAPI31OrLater(), "the document is OpenAPI 3.1")
	doc.Servers = openapi3.Servers{{URL: base}}
	return doc
}

func newAPIValidator(t testing.TB, base string) *apiValidator {
	registerJSONLines.Do(func() { openapi3filter.RegisterBodyDecoder("application/jsonl", openapi3filter.PlainBodyDecoder) })
	doc := loadAPIDocument(t, base)
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)
	return &apiValidator{t: t, router: router, doc: doc, called: map[string]bool{}}
}

var apiValidation = &openapi3filter.Options{
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

func (v *apiValidator) RoundTrip(req *http.Request) (*http.Response, error) {
	what := req.Method + " " + req.URL.RequestURI()
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		v.t.Errorf("openapi: %s is not a documented route: %v", what, err)
		return http.DefaultTransport.RoundTrip(req)
	}
	checked := req.Clone(req.Context())
	if req.GetBody != nil {
		if checked.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	input := &openapi3filter.RequestValidationInput{Request: checked, PathParams: params, Route: route, Options: apiValidation}
	reqErr := openapi3filter.ValidateRequest(req.Context(), input)
	// X-Off-Contract marks a call that breaks the document on purpose
	// (a page too large): its request is not checked, its answer is.
	if reqErr != nil && req.Header.Get("X-Off-Contract") == "" {
		v.t.Errorf("openapi: request %s breaks the document: %v", what, reqErr)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	err = openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: apiValidation,
	})
	if err != nil {
		v.t.Errorf("openapi: response %d to %s breaks the document: %v\n%s", resp.StatusCode, what, err, body)
	}
	if reqErr == nil && resp.StatusCode < 300 {
		v.mu.Lock()
		v.called[route.Operation.OperationID] = true
		v.mu.Unlock()
	}
	return resp, nil
}

// missed lists the document's operations no successful call exercised.
func (v *apiValidator) missed() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, item := range v.doc.Paths.Map() {
		for _, op := range item.Operations() {
			if !v.called[op.OperationID] {
				out = append(out, op.OperationID)
			}
		}
	}
	slices.Sort(out)
	return out
}
