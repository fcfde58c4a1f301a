// Package templates holds the portal's pages and fragments as templ
// components. Each page takes one view model shaped like the screen; the
// layout takes a Page built once per request. Templates do no I/O.
package templates

// Page is the layout-wide data of one response.
type Page struct {
	// Title names the page; the layout appends " · Clusterdesk".
	Title string
	// User is the signed-in person, nil on public pages.
	User *User
	// CSRFToken goes on <body hx-headers> and into every form.
	CSRFToken string
	// Nonce is this response's CSP nonce, for the few <script> elements.
	Nonce string
	// Asset maps a static file name to its hashed URL.
	Asset func(name string) string
	// RequestID identifies the request in logs and on error pages.
	RequestID string
	// Path is the request path, for marking the current navigation entry.
	Path string
	// LiveCounts keeps the menu's counts (awaiting approval, my open
	// requests) live through the start page's event stream.
	LiveCounts bool
	// ownStream is set by a page that holds an event stream of its own
	// (withStream): the counts then follow that stream instead of a second
	// one, since browsers allow six connections per host over HTTP/1.1
	// and every open tab would hold two.
	ownStream bool
}

// withStream is p for a page whose content holds the event stream url
// ("" for none).
func (p Page) withStream(url string) Page {
	p.ownStream = url != ""
	return p
}

// User is the signed-in person as the header shows them.
type User struct {
	Name  string
	Roles []string
}

// asset is nil-safe so that a template test can render without assets.
func (p Page) asset(name string) string {
	if p.Asset == nil {
		return "/static/" + name
	}
	return p.Asset(name)
}

// htmxConfig switches off htmx's eval and inline indicator styles (the CSP
// allows neither), keeps no page snapshots in localStorage (pages hold
// people's data, and must not outlive sign-out) and decides once how
// responses swap: 2xx and 422 (a form
// re-rendered with its errors) swap into the target; other errors swap too,
// and the server retargets them to #flash.
const htmxConfig = `{"allowEval":false,"includeIndicatorStyles":false,"allowScriptTags":false,"historyCacheSize":0,` +
	`"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},` +
	`{"code":"422","swap":true},{"code":"[45]..","swap":true,"error":true}]}`

// TitleText is the full <title>.
func (p Page) TitleText() string {
	if p.Title == "" {
		return "Clusterdesk"
	}
	return p.Title + " · Clusterdesk"
}
