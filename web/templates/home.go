package templates

// personalURL is where the viewer's own lists reload from when requests
// change: the page itself (the lists are picked out of it).
func (v HomeView) personalURL() string {
	if v.LiveURL == "" {
		return ""
	}
	return "/"
}
