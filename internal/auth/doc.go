// Package auth signs people in through their company's OpenID Connect
// provider, keeps their sessions and decides their roles.
//
// # Sign-in
//
// The authorization code flow with PKCE (S256). BeginLogin stores a random
// state, nonce and code verifier in PostgreSQL (table login_attempts) under
// the hash of a random id that the browser keeps in a short-lived cookie;
// FinishLogin deletes that row whatever happens (so a callback works once),
// compares the state in constant time, redeems the code with the verifier
// and verifies the ID token: signature with the provider's advertised
// algorithms, issuer, audience, expiry (go-oidc), then nonce, azp and
// issued-at (here, since go-oidc leaves them to its caller). New discovers
// the provider at once; Start (what `portal serve` uses) starts without it
// when it does not answer and retries discovery in the background, so that
// the worker and signed-in people carry on while sign-in answers "the
// sign-in service is unreachable". Either way a discovery document naming
// another issuer is refused.
//
// People are keyed by (issuer, subject), never by email. Their groups come
// from the configured claim of the ID token, or from userinfo when the ID
// token lacks it, and are stored at every sign-in; roles are computed from
// the stored groups and the RoleGroups in force, so a change of groups at the
// provider takes effect at the next sign-in (at most the absolute timeout
// later).
//
// # Sessions
//
// A session id is 256 random bits; the database keeps only its SHA-256.
// Every sign-in creates a new id and deletes the session the browser had
// (no fixation). A session ends after IdleTimeout without use or
// AbsoluteTimeout after sign-in, checked at every read (an expired session
// is deleted when read) and swept by RunCleanup. Logout deletes it and
// returns the provider's end-session URL with id_token_hint. Each session
// has a CSRF token for state-changing requests (Session.ValidCSRF).
//
// # Events
//
// Sign-ins, sign-outs, failed sign-ins and denials go through
// Service.Record: always logged with slog, and passed to the Config's
// Recorder (for the audit log) when there is one.
//
// The web layer (package handlers) owns cookies, redirects, CSRF and
// security headers; it puts the session into the request context, where
// UserFrom finds it.
package auth
