package devidp

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// IDToken is an ID token about to be handed out, as seen by an IDTokenTweak.
type IDToken struct {
	// Claims is the decoded claim set. Numbers are json.Number values (for
	// example Claims["exp"]); put in any JSON-encodable value.
	Claims map[string]any
	// UnknownKey, when set, signs the token with an RSA key that is not
	// published in the JWKS, under the kid of the real key, so the signature
	// does not verify.
	UnknownKey bool
}

// IDTokenTweak makes the provider misbehave for relying-party tests. It is
// applied to every ID token the token endpoint returns while it is installed
// (Config.TweakIDToken or Provider.SetIDTokenTweak); the token is then
// re-signed. Tweaks see the final claims, including iss, aud, azp, exp, iat,
// nonce, at_hash and groups. The ready-made tweaks below cover the usual
// cases and can be combined with Tweaks.
type IDTokenTweak func(tok *IDToken)

// SetIDTokenTweak installs t for all ID tokens issued from now on; nil
// restores correct behaviour. It is safe to call concurrently with requests.
func (p *Provider) SetIDTokenTweak(t IDTokenTweak) {
	p.tweakMu.Lock()
	defer p.tweakMu.Unlock()
	p.tweak = t
}

func (p *Provider) currentTweak() IDTokenTweak {
	p.tweakMu.RLock()
	defer p.tweakMu.RUnlock()
	return p.tweak
}

// Tweaks combines tweaks; they run in order.
func Tweaks(tweaks ...IDTokenTweak) IDTokenTweak {
	return func(tok *IDToken) {
		for _, t := range tweaks {
			if t != nil {
				t(tok)
			}
		}
	}
}

// SetClaim sets (or replaces) one claim.
func SetClaim(name string, value any) IDTokenTweak {
	return func(tok *IDToken) { tok.Claims[name] = value }
}

// DeleteClaim removes one claim, e.g. DeleteClaim("nonce") or
// DeleteClaim(GroupsClaim).
func DeleteClaim(name string) IDTokenTweak {
	return func(tok *IDToken) { delete(tok.Claims, name) }
}

// WrongNonce replaces the nonce with one the relying party never sent.
func WrongNonce() IDTokenTweak { return SetClaim("nonce", "devidp-wrong-nonce") }

// WrongAudience issues the token to another client: aud and azp become
// "devidp-other-client".
func WrongAudience() IDTokenTweak {
	return Tweaks(SetClaim("aud", []string{"devidp-other-client"}), SetClaim("azp", "devidp-other-client"))
}

// WrongIssuer sets iss to "https://wrong-issuer.invalid".
func WrongIssuer() IDTokenTweak { return SetClaim("iss", "https://wrong-issuer.invalid") }

// Expired makes the token one that expired an hour ago (exp = now-1h,
// iat = auth_time = now-2h).
func Expired() IDTokenTweak {
	return func(tok *IDToken) {
		now := time.Now()
		tok.Claims["exp"] = now.Add(-time.Hour).Unix()
		tok.Claims["iat"] = now.Add(-2 * time.Hour).Unix()
		if _, ok := tok.Claims["auth_time"]; ok {
			tok.Claims["auth_time"] = now.Add(-2 * time.Hour).Unix()
		}
	}
}

// UnknownSigningKey signs the token with a key that is not in the JWKS.
func UnknownSigningKey() IDTokenTweak {
	return func(tok *IDToken) { tok.UnknownKey = true }
}

// tweakTokenResponse wraps the token endpoint: while a tweak is installed,
// the id_token of a successful response is decoded, tweaked and re-signed.
func (p *Provider) tweakTokenResponse(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tweak := p.currentTweak()
		if tweak == nil {
			next.ServeHTTP(w, r)
			return
		}
		rec := &bufferedResponse{header: make(http.Header), status: http.StatusOK}
		next.ServeHTTP(rec, r)
		body := rec.body.Bytes()
		if rec.status == http.StatusOK {
			rewritten, err := p.rewriteTokenResponse(body, tweak)
			if err != nil {
				p.log.Error("devidp: applying ID token tweak", "err", err)
				http.Error(w, "devidp: applying ID token tweak: "+err.Error(), http.StatusInternalServerError)
				return
			}
			body = rewritten
		}
		maps.Copy(w.Header(), rec.header)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.status)
		_, _ = w.Write(body)
	})
}

func (p *Provider) rewriteTokenResponse(body []byte, tweak IDTokenTweak) ([]byte, error) {
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("decoding token response: %w", err)
	}
	raw, ok := resp["id_token"]
	if !ok {
		return body, nil
	}
	var idToken string
	if err := json.Unmarshal(raw, &idToken); err != nil {
		return nil, fmt.Errorf("decoding id_token: %w", err)
	}
	tweaked, err := p.tweakIDToken(idToken, tweak)
	if err != nil {
		return nil, err
	}
	if resp["id_token"], err = json.Marshal(tweaked); err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

func (p *Provider) tweakIDToken(idToken string, tweak IDTokenTweak) (string, error) {
	jws, err := jose.ParseSignedCompact(idToken, []jose.SignatureAlgorithm{jose.RS256}) // an ID token is a compact JWS
	if err != nil {
		return "", fmt.Errorf("parsing id_token: %w", err)
	}
	// The token was signed by this provider a moment ago; verify anyway.
	payload, err := jws.Verify(&p.store.key.key.PublicKey)
	if err != nil {
		return "", fmt.Errorf("verifying id_token: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	tok := &IDToken{}
	if err := dec.Decode(&tok.Claims); err != nil {
		return "", fmt.Errorf("decoding id_token claims: %w", err)
	}
	if tok.Claims == nil {
		tok.Claims = map[string]any{}
	}
	tweak(tok)

	key := p.store.key.key
	if tok.UnknownKey {
		if key, err = p.unknownKey(); err != nil {
			return "", err
		}
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: &jose.JSONWebKey{Key: key, KeyID: p.store.key.id}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return "", fmt.Errorf("creating signer: %w", err)
	}
	claims, err := json.Marshal(tok.Claims)
	if err != nil {
		return "", fmt.Errorf("encoding tweaked claims: %w", err)
	}
	signed, err := signer.Sign(claims)
	if err != nil {
		return "", fmt.Errorf("signing tweaked id_token: %w", err)
	}
	return signed.CompactSerialize()
}

// unknownKey returns a lazily generated key that is never published.
func (p *Provider) unknownKey() (*rsa.PrivateKey, error) {
	p.foreignKeyOnce.Do(func() {
		p.foreignKey, p.foreignKeyErr = rsa.GenerateKey(rand.Reader, 2048)
	})
	return p.foreignKey, p.foreignKeyErr
}

// bufferedResponse captures a handler's response so it can be rewritten.
type bufferedResponse struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if !b.wroteHeader {
		b.status, b.wroteHeader = status, true
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}
