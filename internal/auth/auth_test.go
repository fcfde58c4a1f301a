package auth_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func TestSafeReturnPath(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"/":                             "/",
		"/requests/42":                  "/requests/42",
		"/audit?actor=bob&page=2":       "/audit?actor=bob&page=2",
		"/clusters/a%2Fb":               "/clusters/a%2Fb",
		"/.//evil.example":              "/.//evil.example", // a path on this site, however odd
		"":                              "/",
		"requests/42":                   "/",
		"//evil.example":                "/",
		"//evil.example/requests":       "/",
		`/\evil.example`:                "/",
		`\\evil.example`:                "/",
		`/requests\..\..\x`:             "/",
		"https://evil.example/":         "/",
		"http:evil.example":             "/",
		"javascript:alert(1)":           "/",
		"/\t/evil.example":              "/",
		"/\n/evil.example":              "/",
		"/requests\x00":                 "/",
		"/auth/logout":                  "/",
		"/auth/login?next=//evil":       "/",
		"/auth":                         "/",
		"/authors":                      "/authors",
		"/" + strings.Repeat("a", 3000): "/",
	} {
		require.Equal(t, want, auth.SafeReturnPath(raw), "%q", raw)
	}
}

// FuzzSafeReturnPath checks that whatever comes in, the result resolves to
// a URL on the portal's own origin.
func FuzzSafeReturnPath(f *testing.F) {
	for _, seed := range []string{"/", "//x", `/\x`, "/a?b=c", "https://x", "/\t/x", "/%2F%2Fx", "/.//x", "/auth/x"} {
		f.Add(seed)
	}
	base, _ := url.Parse("https://portal.example.com/somewhere/deep")
	f.Fuzz(func(t *testing.T, raw string) {
		got := auth.SafeReturnPath(raw)
		require.True(t, strings.HasPrefix(got, "/"))
		ref, err := url.Parse(got)
		require.NoError(t, err)
		resolved := base.ResolveReference(ref)
		require.Equal(t, "portal.example.com", resolved.Host, "%q -> %q", raw, got)
		require.Equal(t, "https", resolved.Scheme)
		require.NotContains(t, got, `\`)
	})
}

func TestRoles(t *testing.T) {
	t.Parallel()
	m := auth.RoleGroups{Requester: []string{"developers"}, Approver: []string{"approvers", "leads"}, Admin: []string{"admins"}, Auditor: []string{"auditors"}}
	for _, tt := range []struct {
		groups []string
		want   []auth.Role
	}{
		{nil, nil},
		{[]string{"marketing"}, nil},
		{[]string{"developers"}, []auth.Role{auth.RoleRequester}},
		{[]string{"leads", "developers"}, []auth.Role{auth.RoleRequester, auth.RoleApprover}},
		{[]string{"admins", "auditors"}, []auth.Role{auth.RoleAdmin, auth.RoleAuditor}},
		{[]string{"Developers"}, nil}, // group names are exact
	} {
		require.Equal(t, tt.want, m.Roles(tt.groups), "%v", tt.groups)
	}

	everyone := auth.RoleGroups{Approver: []string{"approvers"}}
	require.Equal(t, []auth.Role{auth.RoleRequester}, everyone.Roles(nil), "no requester groups: everyone requests")
	require.Equal(t, []auth.Role{auth.RoleRequester, auth.RoleApprover}, everyone.Roles([]string{"approvers"}))
	require.Equal(t, auth.RoleGrant{Role: auth.RoleRequester}, everyone.Grants()[0])

	u := auth.User{Roles: m.Roles([]string{"leads"})}
	require.True(t, u.Has(auth.RoleApprover))
	require.False(t, u.Has(auth.RoleRequester))
	require.True(t, u.HasAnyRole())
	require.False(t, auth.User{}.HasAnyRole())
}

func TestNewRefusesAProviderThatIsNotTheIssuer(t *testing.T) {
	t.Parallel()
	idp, _ := devidp.NewTestServer(t, devidp.Config{Clients: []devidp.Client{{ID: "portal", RedirectURIs: []string{"http://portal.test/auth/callback"}}}})
	pool := testdb.New(t)
	cfg := auth.Config{Issuer: idp.Issuer(), ClientID: "portal", BaseURL: "http://portal.test"}

	svc, err := auth.New(t.Context(), pool, cfg)
	require.NoError(t, err)
	require.Equal(t, idp.Issuer(), svc.ProviderOrigin(), "sign-out continues at the provider")

	cfg.Issuer = idp.Issuer() + "/"
	_, err = auth.New(t.Context(), pool, cfg)
	require.ErrorContains(t, err, `announces the issuer "`+idp.Issuer()+`"`)

	cfg.Issuer = "http://127.0.0.1:1"
	_, err = auth.New(t.Context(), pool, cfg)
	require.ErrorContains(t, err, "discover the OpenID provider at http://127.0.0.1:1")

	_, err = auth.New(t.Context(), pool, auth.Config{Issuer: idp.Issuer(), BaseURL: "http://portal.test"})
	require.ErrorContains(t, err, "client id")
}
