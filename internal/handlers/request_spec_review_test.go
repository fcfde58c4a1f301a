package handlers

import (
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// A create form with the name of an existing cluster gets a field error
// before filing: in the live check, with a link to the cluster, and again
// on submit, with everything typed kept. The name of a cluster that only
// an open create request asks for is refused the same way, except on that
// request's own edit form.
func TestSpecCreateRefusesATakenName(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	prod := f.uid("analytics-prod")
	form := specValues(alice, presetSpec(t, "small development cluster"), "analytics-prod", "Another one")
	form.Set("query_replicas", "2")

	live := alice.postOnce("/clusters/new/validate", form, "HX-Request", "true")
	require.Equal(t, http.StatusOK, live.status, live.body)
	msg, _ := errorSlot(live.body, "name")
	require.Equal(t, "A cluster named analytics-prod already exists. Choose another name. Open analytics-prod", msg)
	require.Contains(t, live.body, `<a href="/clusters/`+prod+`" data-testid="name-error-link">Open analytics-prod</a>`)
	require.NotContains(t, live.body, `data-testid="spec-ok"`, "no more \"No problems found\"")
	require.Contains(t, live.body, `<a href="#name" data-testid="spec-review-problem">Cluster name: A cluster named analytics-prod already exists.`)
	require.Contains(t, live.body, "1 problem")

	resp := alice.postOnce("/clusters/new", form)
	require.Equal(t, http.StatusUnprocessableEntity, resp.status)
	msg, _ = errorSlot(resp.body, "name")
	require.Contains(t, msg, "A cluster named analytics-prod already exists.")
	require.Regexp(t, `id="name" name="name" value="analytics-prod"[^>]*aria-invalid="true" autofocus`, resp.body)
	for _, kept := range []string{`>Another one</textarea>`, `id="query_replicas" name="query_replicas" value="2"`} {
		require.Contains(t, resp.body, kept)
	}
	require.Zero(t, f.countRows("change_requests"))

	t.Run("a name an open request asks for", func(t *testing.T) {
		r := f.filedRequest(alice.postOnce("/clusters/new", specValues(alice, presetSpec(t, "small development cluster"), "reports-dev", "Reports")))
		bob, _ := f.signedIn("bob")
		again := specValues(bob, presetSpec(t, "small development cluster"), " reports-dev ", "Reports too")
		live := bob.postOnce("/clusters/new/validate", again, "HX-Request", "true")
		msg, _ := errorSlot(live.body, "name")
		id := strconv.FormatInt(r.ID, 10)
		require.Equal(t, "Request "+id+" already asks to create a cluster named reports-dev. Choose another name. Open request "+id, msg)
		require.Contains(t, live.body, `<a href="/requests/`+id+`" data-testid="name-error-link">`)

		edit := specValues(alice, presetSpec(t, "small development cluster"), "reports-dev", "Reports, more queries")
		edit.Set("revision", "1")
		edit.Set("query_replicas", "2")
		own := alice.postOnce(requestPath(r.ID, "edit", "validate"), edit, "HX-Request", "true")
		msg, ok := errorSlot(own.body, "name")
		require.True(t, ok)
		require.Empty(t, msg, "the request keeps its own name")
	})
	t.Run("a deleted cluster's name is free", func(t *testing.T) {
		_, err := f.pool.Exec(t.Context(), `UPDATE clusters SET deleted_at = now() WHERE name = 'clickstream-dev'`)
		require.NoError(t, err)
		r := f.filedRequest(alice.postOnce("/clusters/new", specValues(alice, presetSpec(t, "small development cluster"), "clickstream-dev", "Back again")))
		require.Equal(t, "clickstream-dev", r.ClusterName)
	})
}

// Without JavaScript the review is a step of its own: the form opens with
// the review section and its buttons (which belong to the form), Check
// shows the form again with the request as approvers will see it and
// files nothing, and File files it.
func TestSpecFormReviewWithoutJavaScript(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	uid := f.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, uid)
	require.NoError(t, err)

	page := alice.get("/clusters/" + uid + "/update")
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, `<section id="spec-review" class="spec-review" aria-labelledby="spec-review-heading" data-testid="spec-review">`)
	require.Contains(t, page.body, `<button type="submit" form="spec-form" data-testid="spec-submit">File the request</button>`)
	require.Contains(t, page.body, `<button type="submit" form="spec-form" name="review" value="1" formaction="/clusters/`+uid+`/update#spec-review"`)
	require.Less(t, strings.Index(page.body, `data-testid="spec-enter"`), strings.Index(page.body, `data-testid="spec-to-json"`),
		"Enter in a field checks the form: its default button comes first")
	require.Contains(t, page.body, `<a href="#data_tier1" data-testid="spec-toc-link">Data tier 1</a>`, "the table of contents")
	require.Contains(t, page.body, `<p data-testid="spec-review-nochange">`)
	require.Equal(t, "no changes · not checked yet", specCounts(page.body, "spec-bar-counts"))
	require.Equal(t, "no changes · not checked yet", specCounts(page.body, "spec-review-counts"))

	form := specValues(alice, cl.Spec, "", "More data")
	form.Set("seen_resource_version", strconv.FormatInt(cl.ResourceVersion, 10))
	form.Set("data_tier1_replicas", "3")
	form.Set("review", "1")
	review := alice.postOnce("/clusters/"+uid+"/update", form)
	require.Equal(t, http.StatusOK, review.status, review.body)
	require.Zero(t, f.countRows("change_requests"), "Check files nothing")
	require.Equal(t, "1 change · no problems", specCounts(review.body, "spec-review-counts"))
	require.Contains(t, html.UnescapeString(review.body),
		`<li data-testid="spec-review-change" data-field="data_tier1_replicas"><a href="#data_tier1_replicas">Data tier 1 replicas</a>:`)
	require.Contains(t, review.body, `data-testid="request-diff"`, "the request as approvers will see it")
	require.Contains(t, review.body, `id="data_tier1_replicas" name="data_tier1_replicas" value="3"`)

	t.Run("a problem is listed and linked", func(t *testing.T) {
		form.Set("data_tier1_replicas", "three")
		resp := alice.postOnce("/clusters/"+uid+"/update", form)
		require.Equal(t, http.StatusUnprocessableEntity, resp.status)
		require.Equal(t, "no changes · 1 problem", specCounts(resp.body, "spec-review-counts"))
		require.Contains(t, resp.body, `<span class="spec-review-bad">1 problem</span>`, "the problems in colour too")
		require.Contains(t, resp.body, `<a href="#data_tier1_replicas" data-testid="spec-review-problem">Data tier 1 replicas must be a whole number`,
			"a message that names its field says it once")
		require.Zero(t, f.countRows("change_requests"))
	})
	t.Run("File files it", func(t *testing.T) {
		form.Set("data_tier1_replicas", "3")
		form.Del("review")
		r := f.filedRequest(alice.postOnce("/clusters/"+uid+"/update", form))
		require.Equal(t, approvals.KindUpdate, r.Kind)
	})
}

// The live check keeps the review in step: its counts, changes and
// problems and the phone's bar come back out of band with the error slots.
func TestSpecValidateUpdatesTheReview(t *testing.T) {
	t.Parallel()
	f := newSpecFixture(t, true)
	alice, _ := f.signedIn("alice")
	uid := f.uid("analytics-staging")
	cl, err := inventory.ClusterGet(t.Context(), f.pool, uid)
	require.NoError(t, err)
	form := specValues(alice, cl.Spec, "", "")
	form.Set("seen_resource_version", strconv.FormatInt(cl.ResourceVersion, 10))
	form.Set("data_tier1_replicas", "3")
	form.Set("query_replicas", "0")

	live := alice.postOnce("/clusters/"+uid+"/update/validate", form, "HX-Request", "true")
	require.Equal(t, http.StatusOK, live.status, live.body)
	require.Contains(t, live.body, `<div id="spec-review-status" data-testid="spec-review-status" hx-swap-oob="true">`)
	require.Contains(t, live.body, `<div id="spec-bar" class="spec-bar" data-testid="spec-bar" hx-swap-oob="true">`)
	require.Equal(t, "2 changes · 1 problem", specCounts(live.body, "spec-review-counts"), "changes are counted even with a problem")
	require.Equal(t, "2 changes · 1 problem", specCounts(live.body, "spec-bar-counts"))
	require.Contains(t, live.body, `<a href="#query_replicas" data-testid="spec-review-problem">`)
	require.Contains(t, live.body, `data-field="query_replicas"`)
	require.NotContains(t, live.body, "<input", "inputs are never replaced")
	require.NotContains(t, live.body, `data-testid="spec-submit"`, "nor the buttons")
}

// specCounts is the text of the review's counts (data-testid testid) in
// body, spaces collapsed.
func specCounts(body, testid string) string {
	m := regexp.MustCompile(`(?s)data-testid="` + regexp.QuoteMeta(testid) + `">(.*?)</p>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	text := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m[1], "")
	return strings.Join(strings.Fields(html.UnescapeString(text)), " ")
}
