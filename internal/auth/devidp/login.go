package devidp

import (
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/clusterdesk/clusterdesk/web/static"
)

// maxFormBytes bounds the login form bodies.
const maxFormBytes = 64 << 10

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"join": strings.Join,
}).Parse(`
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} · Clusterdesk dev identity provider</title>
<link rel="icon" href="/favicon.ico" type="image/svg+xml">
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}
ul{list-style:none;padding:0}
li{margin:.5rem 0}
button{font:inherit;width:100%;text-align:left;padding:.75rem 1rem;border:1px solid #767676;border-radius:.5rem;background:#fff;color:inherit;cursor:pointer}
button:hover{background:#f0f4ff}
button:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}
.meta{display:block;color:#4a4a4a;font-size:.9rem}
.error{border:1px solid #b91c1c;color:#b91c1c;padding:.5rem 1rem;border-radius:.5rem}
.cancel{width:auto}
</style>
</head>
<body>
<main>
{{end}}
{{define "foot"}}</main>
</body>
</html>
{{end}}

{{define "login"}}{{template "head" "Sign in"}}
<h1>Sign in</h1>
<p>Development identity provider. Pick a test user to sign in to <strong data-testid="client-id">{{.ClientID}}</strong>; no password is needed.</p>
{{if .Error}}<p class="error" role="alert" data-testid="login-error">{{.Error}}</p>{{end}}
<form method="post" action="{{.SelectAction}}" data-testid="login-form">
<input type="hidden" name="id" value="{{.ID}}">
<fieldset>
<legend>Test users</legend>
<ul>
{{range .Users}}<li><button type="submit" name="username" value="{{.Username}}" data-testid="user-{{.Username}}">
<span>Sign in as {{.Name}} ({{.Username}})</span>
<span class="meta">Groups: {{if .Groups}}{{join .Groups ", "}}{{else}}none{{end}}</span>
</button></li>
{{end}}</ul>
</fieldset>
</form>
<form method="post" action="{{.CancelAction}}">
<input type="hidden" name="id" value="{{.ID}}">
<button type="submit" class="cancel" data-testid="cancel">Cancel sign-in</button>
</form>
{{template "foot"}}{{end}}

{{define "error"}}{{template "head" "Error"}}
<h1>Sign-in problem</h1>
<p class="error" role="alert" data-testid="login-error">{{.}}</p>
<p>Start again from the application.</p>
{{template "foot"}}{{end}}

{{define "logged-out"}}{{template "head" "Signed out"}}
<h1 data-testid="logged-out">You have been signed out</h1>
<p>You can close this window.</p>
{{template "foot"}}{{end}}

{{define "index"}}{{template "head" "Development identity provider"}}
<h1>Development identity provider</h1>
<p>Issuer: <code data-testid="issuer">{{.Issuer}}</code> — <a href="{{.Issuer}}/.well-known/openid-configuration">discovery document</a></p>
<h2>Test users</h2>
<ul>
{{range .Users}}<li data-testid="index-user-{{.Username}}"><strong>{{.Username}}</strong> — {{.Name}} &lt;{{.Email}}&gt;; groups: {{if .Groups}}{{join .Groups ", "}}{{else}}none{{end}}</li>
{{end}}</ul>
{{template "foot"}}{{end}}
`))

type loginPage struct {
	ID, ClientID, Error        string
	SelectAction, CancelAction string
	Users                      []User
}

func (p *Provider) render(w http.ResponseWriter, status int, name string, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// No form-action directive: browsers apply it to the redirect chain that
	// ends at the relying party's redirect_uri.
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		p.log.Error("devidp: rendering page", "page", name, "err", err)
	}
}

func (p *Provider) renderLogin(w http.ResponseWriter, status int, req *authRequest, errMsg string) {
	p.render(w, status, "login", loginPage{
		ID:           req.id,
		ClientID:     req.clientID,
		Error:        errMsg,
		SelectAction: p.issuer + pathLoginSelect,
		CancelAction: p.issuer + pathLoginCancel,
		Users:        p.usersForHint(req.loginHint),
	})
}

// usersForHint lists the users, the one named by login_hint (if any) first.
func (p *Provider) usersForHint(hint string) []User {
	users := p.store.userList()
	for i, u := range users {
		if hint != "" && u.Username == hint {
			copy(users[1:i+1], users[:i])
			users[0] = u
			break
		}
	}
	return users
}

// handleLoginPage serves GET /login?authRequestID=… (the op library redirects
// there from the authorization endpoint).
func (p *Provider) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	req, ok := p.store.authRequestSnapshot(r.URL.Query().Get("authRequestID"))
	if !ok {
		p.render(w, http.StatusBadRequest, "error", errUnknownAuthRequest.Error())
		return
	}
	p.renderLogin(w, http.StatusOK, req, "")
}

// handleLoginSelect serves POST /login/select with form fields id (the auth
// request id) and username, then redirects (303) to the authorization
// callback, which redirects to the client's redirect_uri with a code.
func (p *Provider) handleLoginSelect(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.render(w, http.StatusBadRequest, "error", "cannot parse the form")
		return
	}
	id, username := r.PostForm.Get("id"), r.PostForm.Get("username")
	req, err := p.store.completeLogin(id, username)
	switch {
	case errors.Is(err, errUnknownUser):
		if pending, ok := p.store.authRequestSnapshot(id); ok {
			p.renderLogin(w, http.StatusBadRequest, pending, "Unknown user "+quote(username)+"; pick one of the listed users.")
			return
		}
		p.render(w, http.StatusBadRequest, "error", errUnknownAuthRequest.Error())
		return
	case err != nil:
		p.render(w, http.StatusBadRequest, "error", err.Error())
		return
	}
	p.log.Info("devidp: user signed in", "username", username, "sub", req.subject, "client_id", req.clientID)
	callback := op.AuthCallbackURL(p.op)(op.ContextWithIssuer(r.Context(), p.issuer), req.id)
	http.Redirect(w, r, callback, http.StatusSeeOther)
}

// handleLoginCancel serves POST /login/cancel with form field id: the login
// is abandoned and the client receives error=access_denied.
func (p *Provider) handleLoginCancel(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.render(w, http.StatusBadRequest, "error", "cannot parse the form")
		return
	}
	req, err := p.store.cancelLogin(r.PostForm.Get("id"))
	if err != nil {
		p.render(w, http.StatusBadRequest, "error", err.Error())
		return
	}
	p.log.Info("devidp: sign-in cancelled", "client_id", req.clientID)
	op.AuthRequestError(w, r, req, oidc.ErrAccessDenied().WithDescription("the user cancelled the sign-in"), p.op)
}

func (p *Provider) handleLoggedOut(w http.ResponseWriter, _ *http.Request) {
	p.render(w, http.StatusOK, "logged-out", nil)
}

func (p *Provider) handleIndex(w http.ResponseWriter, _ *http.Request) {
	p.render(w, http.StatusOK, "index", struct {
		Issuer string
		Users  []User
	}{p.issuer, p.store.userList()})
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return "“" + s + "”"
}

// handleFavicon serves the portal's icon, so that the sign-in page, which
// every journey starts on, is recognisable in a tab.
func handleFavicon(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(static.Favicon)
}
