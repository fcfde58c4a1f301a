package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// secretPayload holds a secret under every kind of name and place the
// redaction must catch; each secret value contains "SECRET".
const secretPayload = `{
	"initialDruidPassword": "SECRET-1",
	"INITIALDRUIDPASSWORD": "SECRET-2",
	"password": "SECRET-3",
	"db_passwd": "SECRET-4",
	"client_secret": "SECRET-5",
	"clientSecret": "SECRET-6",
	"access_token": "SECRET-7",
	"refreshToken": "SECRET-8",
	"id-token": "SECRET-9",
	"Authorization": "SECRET-10",
	"Cookie": "SECRET-11",
	"set-cookie": ["SECRET-12", "SECRET-13"],
	"x-api-key": "SECRET-14",
	"privateKey": {"pem": "SECRET-15", "kid": "SECRET-16"},
	"credentials": {"user": "SECRET-17"},
	"spec": {
		"servers": [
			{"name": "broker", "auth": {"Password": "SECRET-18"}},
			{"name": "router", "env": [{"name": "X", "apiToken": "SECRET-19"}]}
		],
		"nested": [[{"deep": {"TOKEN": "SECRET-20"}}]]
	},
	"header": "Bearer SECRET-21",
	"basic": "basic SECRET-22",
	"jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTRUNSRVQifQ.SECRET-23",
	"dsn": "postgres://portal:SECRET-24@db.internal:5432/clusterdesk",
	"list": ["plain", "Bearer SECRET-25", {"passphrase": "SECRET-26"}],
	"session_id": "SECRET-27",
	"webhookSignature": "SECRET-28"
}`

func TestRedactRemovesEverySecret(t *testing.T) {
	t.Parallel()
	var v any
	require.NoError(t, json.Unmarshal([]byte(secretPayload), &v))
	out, err := json.Marshal(Redact(v))
	require.NoError(t, err)
	require.NotContains(t, string(out), "SECRET", "a secret survived: %s", out)
	require.Equal(t, 28, strings.Count(secretPayload, `SECRET-`), "the payload lost a case")

	// What is not secret stays.
	var got map[string]any
	require.NoError(t, json.Unmarshal(out, &got))
	require.Equal(t, Redacted, got["initialDruidPassword"])
	require.Equal(t, Redacted, got["privateKey"], "a secret object goes whole")
	require.Equal(t, []any{"plain", Redacted, map[string]any{"passphrase": Redacted}}, got["list"])
	servers := got["spec"].(map[string]any)["servers"].([]any)
	require.Equal(t, "broker", servers[0].(map[string]any)["name"])
	require.Equal(t, "postgres://portal:[redacted]@db.internal:5432/clusterdesk", got["dsn"])
}

func TestRedactKeepsOrdinaryValues(t *testing.T) {
	t.Parallel()
	in := map[string]any{
		"cluster": "prod-eu", "replicas": json.Number("3"), "note": "the bearer of good news",
		"url": "https://example.com/a@b", "user": "postgres://alice@db/x", "empty": nil,
		"password": nil, // a null says nothing secret, and stays visible as null
	}
	require.Equal(t, in, Redact(in))
}

func TestIsSecretKey(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"password", "initialDruidPassword", "CLIENT_SECRET", "client-secret", "apiToken",
		"authorization", "Proxy-Authorization", "cookie", "x-api-key", "api.key", "private_key", "aws_credentials"} {
		require.True(t, IsSecretKey(k), k)
	}
	for _, k := range []string{"cluster", "replicas", "name", "author", "cook", "key", "subject"} {
		require.False(t, IsSecretKey(k), k)
	}
}

func TestNormalizeDataRedactsStructsAndMaps(t *testing.T) {
	t.Parallel()
	type oauth struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	for _, data := range []any{
		oauth{"portal", "SECRET"},
		map[string]string{"clientId": "portal", "clientSecret": "SECRET"},
		json.RawMessage(`{"clientId":"portal","clientSecret":"SECRET"}`),
	} {
		v, err := normalizeData(data)
		require.NoError(t, err)
		var b bytes.Buffer
		writeValue(&b, v)
		require.Equal(t, `{"clientId":"portal","clientSecret":"[redacted]"}`, b.String())
	}
	v, err := normalizeData(nil)
	require.NoError(t, err)
	require.Equal(t, map[string]any{}, v)
}
