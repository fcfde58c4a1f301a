package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
)

// TestVerifierRefusesForgedAlgorithms hands the verifier tokens no provider
// would sign: "alg": "none", and HS256 keyed with the provider's public key
// (the classic confusion of a verifier that trusts the header's alg).
func TestVerifierRefusesForgedAlgorithms(t *testing.T) {
	t.Parallel()
	idp, srv := devidp.NewTestServer(t, devidp.Config{Clients: []devidp.Client{{ID: "portal", RedirectURIs: []string{"http://portal.test/auth/callback"}}}})
	cfg := Config{Issuer: idp.Issuer(), ClientID: "portal", BaseURL: "http://portal.test", GroupsClaim: "groups", HTTPClient: srv.Client(), Now: time.Now}
	rp, err := discover(t.Context(), cfg)
	require.NoError(t, err)

	resp, err := srv.Client().Get(idp.Issuer() + "/keys")
	require.NoError(t, err)
	jwks, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	claims, err := json.Marshal(map[string]any{
		"iss": idp.Issuer(), "aud": "portal", "sub": "devidp-bob", "nonce": "n",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	})
	require.NoError(t, err)
	b64 := base64.RawURLEncoding.EncodeToString
	unsigned := func(alg string) string {
		return b64([]byte(`{"alg":"`+alg+`","typ":"JWT"}`)) + "." + b64(claims)
	}

	none := unsigned("none") + "."
	mac := hmac.New(sha256.New, jwks)
	mac.Write([]byte(unsigned("HS256")))
	hs256 := unsigned("HS256") + "." + b64(mac.Sum(nil))

	for name, token := range map[string]string{"alg none": none, "HS256 with the public key": hs256} {
		_, err := rp.verifier.Verify(t.Context(), token)
		require.Error(t, err, name)
	}
}
