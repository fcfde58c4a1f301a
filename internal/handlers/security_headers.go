package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"strings"

	"github.com/labstack/echo/v4"
)

const nonceKey = "csp_nonce"

// securityHeaders sets the headers every response carries, pages, fragments,
// errors and files alike, before anything else runs:
//
//   - a Content-Security-Policy with a fresh nonce per response (the
//     layout's <script> elements carry it) and no unsafe-inline or
//     unsafe-eval, so injected markup cannot run script or inline styles;
//     form-action also allows the provider's origin, where sign-out goes on;
//   - nosniff, a referrer policy, framing denied, the opener isolated;
//   - Cache-Control: no-store, so pages with people's data stay out of
//     caches and the back button cannot show them after sign-out (static
//     files replace it with their own year-long caching);
//   - HSTS when the portal is served over https.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		nonce := newNonce()
		c.Set(nonceKey, nonce)
		h := c.Response().Header()
		h.Set("Content-Security-Policy", s.csp(nonce))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if s.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		return next(c)
	}
}

func (s *Server) csp(nonce string) string {
	formAction := "'self'"
	if s.deps.Auth != nil && s.deps.Auth.ProviderOrigin() != "" {
		formAction += " " + s.deps.Auth.ProviderOrigin()
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self' 'nonce-" + nonce + "'",
		"style-src 'self'",
		"img-src 'self' data:",
		"font-src 'self'",
		"connect-src 'self'",
		"frame-ancestors 'none'",
		"object-src 'none'",
		"base-uri 'none'",
		"form-action " + formAction,
	}, "; ")
}

// newNonce returns 128 random bits for one response's CSP nonce.
func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// cspNonce is the nonce of the response being built.
func cspNonce(c echo.Context) string {
	n, _ := c.Get(nonceKey).(string)
	return n
}
