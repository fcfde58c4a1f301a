package templates

import "github.com/a-h/templ"

// The attributes that make a page live (see internal/live and
// internal/handlers/live.go), shared by every live page.

// liveAttrs make an element the source of a page's server-sent events
// (htmx's sse extension); none without a stream, so the page works as a
// plain page.
func liveAttrs(url string) templ.Attributes {
	if url == "" {
		return templ.Attributes{}
	}
	return templ.Attributes{"hx-ext": "sse", "sse-connect": url}
}

// refreshAttrs makes an element reload its own content from url when the
// page's event stream says "refresh": the part of the page that depends on
// who looks. The element itself stays (its children are swapped), so a
// refresh arriving while one is loading replaces it (hx-sync) instead of
// being lost with a swapped-out element.
func refreshAttrs(url, selector string) templ.Attributes {
	if url == "" {
		return templ.Attributes{}
	}
	return templ.Attributes{"hx-get": url, "hx-trigger": "sse:refresh", "hx-select": selector + " > *",
		"hx-swap": "innerHTML", "hx-sync": "this:replace"}
}
