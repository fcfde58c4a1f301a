package handlers

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/audit"
)

// auditEnv is the portal with an audit log of n events: actors 1 and 2
// alternate, every third event is about cluster cl-1 (uid and name), the
// rest about request 10+i, and every fifth mentions "needle".
func auditEnv(t *testing.T, n int) *signinEnv {
	t.Helper()
	env := newSigninEnv(t, signinOptions{})
	for i := range n {
		e := audit.Event{
			Actor:   audit.User(strconv.Itoa(1+i%2), fmt.Sprintf("Person %d", 1+i%2)),
			Action:  audit.RequestCreated,
			Subject: audit.Subject{Type: audit.SubjectRequest, ID: strconv.Itoa(10 + i)},
			Data:    map[string]any{"i": i, "note": "hay"},
		}
		if i%3 == 0 {
			e.Action, e.Subject = audit.ClusterDriftDetected, audit.Subject{Type: audit.SubjectCluster, ID: "cl-1"}
		}
		if i%5 == 0 {
			e.Data = map[string]any{"i": i, "note": "a needle <b>here</b>"}
		}
		if i%3 == 0 {
			e.Data.(map[string]any)["cluster_name"] = "cl-1"
		}
		err := pgx.BeginFunc(t.Context(), env.pool, func(tx pgx.Tx) error {
			_, err := audit.Append(t.Context(), tx, e)
			return err
		})
		require.NoError(t, err)
	}
	// Chained, as the worker would have done by the time anyone looks.
	_, err := audit.ChainAll(t.Context(), env.pool)
	require.NoError(t, err)
	return env
}

var (
	rowSeqRE     = regexp.MustCompile(`data-testid="audit-row" data-seq="([0-9,]+)"`)
	pagerRE      = regexp.MustCompile(`href="([^"]+)"\s+hx-get="[^"]+"\s+hx-target="#audit-results"\s+hx-swap="outerHTML"\s+hx-push-url="true"\s+data-testid="(pager-[a-z]+)"`)
	exportLinkRE = regexp.MustCompile(`href="([^"]+)" data-testid="(export-csv|export-jsonl)"`)
)

// rowSeqs lists the events a page shows, in order.
func rowSeqs(t *testing.T, body string) []int64 {
	t.Helper()
	var seqs []int64
	for _, m := range rowSeqRE.FindAllStringSubmatch(body, -1) {
		n, err := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
		require.NoError(t, err)
		seqs = append(seqs, n)
	}
	return seqs
}

// links finds a page's pager and export links by data-testid.
func links(body string) map[string]string {
	out := map[string]string{}
	for _, re := range []*regexp.Regexp{pagerRE, exportLinkRE} {
		for _, m := range re.FindAllStringSubmatch(body, -1) {
			out[m[2]] = html.UnescapeString(m[1])
		}
	}
	return out
}

func TestAuditPagesAreForAuditorsAndAdmins(t *testing.T) {
	t.Parallel()
	env := auditEnv(t, 1)
	for _, who := range []struct {
		user   string
		status int
	}{{"erin", http.StatusOK}, {"dave", http.StatusOK}, {"alice", http.StatusForbidden}, {"carol", http.StatusForbidden}} {
		b := env.browser()
		b.signIn(who.user, "/")
		for _, path := range []string{"/audit", "/audit/verify", "/audit/events/1", "/audit/export?format=csv"} {
			require.Equal(t, who.status, b.get(path).status, "%s %s", who.user, path)
		}
	}
	anonymous := env.browser().getOnce("/audit")
	require.Equal(t, http.StatusSeeOther, anonymous.status)
	require.Contains(t, anonymous.header.Get("Location"), "/auth/login")
}

func TestAuditPageFiltersAndPages(t *testing.T) {
	t.Parallel()
	env := auditEnv(t, 130)
	b := env.browser()
	b.signIn("erin", "/")

	first := b.get("/audit")
	require.Equal(t, http.StatusOK, first.status)
	require.Contains(t, first.body, `data-testid="audit-filter"`)
	seqs := rowSeqs(t, first.body)
	require.Len(t, seqs, audit.DefaultPageSize)
	require.Equal(t, int64(130), seqs[0], "newest first")
	require.Contains(t, first.body, "50 events, #130 back to #81, of 130 in the log.")
	require.NotContains(t, first.body, "<b>here</b>", "payloads are escaped")

	// Page by page to the end without JS: each page's "Older" link.
	all := seqs
	page := first
	for range 10 {
		older, ok := links(page.body)["pager-older"]
		if !ok {
			break
		}
		page = b.get(older)
		require.Equal(t, http.StatusOK, page.status)
		all = append(all, rowSeqs(t, page.body)...)
	}
	require.Len(t, all, 130)
	require.True(t, slices.IsSortedFunc(all, func(a, b int64) int { return int(b - a) }))
	require.Equal(t, int64(1), all[len(all)-1])
	require.NotContains(t, links(page.body), "pager-oldest", "the last page has no older pages")

	// Filters combine: actor 2 and cluster cl-1 are events 3, 9, 15, …
	filtered := b.get("/audit?actor=2&subject_type=cluster&subject_id=cl-1")
	var want []int64
	for i := 129; i >= 0; i-- {
		if i%2 == 1 && i%3 == 0 {
			want = append(want, int64(i+1))
		}
	}
	require.Equal(t, want, rowSeqs(t, filtered.body))
	require.Contains(t, filtered.body, `value="cl-1"`, "the form shows the filter")

	// Free text and actions; the form keeps the chosen actions ticked.
	text := b.get("/audit?q=NEEDLE&action=cluster.drift_detected&action=request.created")
	require.Len(t, rowSeqs(t, text.body), 26)
	require.Contains(t, text.body, `value="cluster.drift_detected" checked`)

	// Links to the subjects' pages.
	require.Contains(t, filtered.body, `href="/clusters/cl-1" data-testid="subject-link"`)
	require.Contains(t, first.body, `href="/requests/138" data-testid="subject-link"`)
}

func TestAuditPageWithHTMX(t *testing.T) {
	t.Parallel()
	env := auditEnv(t, 120)
	b := env.browser()
	b.signIn("erin", "/")

	frag := b.get("/audit?actor=1", "HX-Request", "true")
	require.Equal(t, http.StatusOK, frag.status)
	require.True(t, strings.HasPrefix(strings.TrimSpace(frag.body), `<section id="audit-results"`), "a fragment, not a page")
	require.NotContains(t, frag.body, "<html")
	require.Contains(t, frag.header.Values("Vary"), "HX-Request")
	require.Len(t, rowSeqs(t, frag.body), 50)
	require.Equal(t, "/audit?actor=1", frag.header.Get("HX-Push-Url"), "the address bar gets the URL without empty fields")

	// The pager and export links of the fragment carry the filter.
	l := links(frag.body)
	require.Contains(t, l["export-csv"], "actor=1")
	require.Contains(t, l["pager-older"], "actor=1")
	older := b.get(l["pager-older"], "HX-Request", "true")
	require.Len(t, rowSeqs(t, older.body), 10)
	require.Contains(t, links(older.body)["pager-newest"], "actor=1")

	// Back button with htmx's history cache off: a full page.
	restore := b.get("/audit?actor=1", "HX-Request", "true", "HX-History-Restore-Request", "true")
	require.Contains(t, restore.body, "<html")
}

func TestAuditFilterMistakes(t *testing.T) {
	t.Parallel()
	env := auditEnv(t, 3)
	b := env.browser()
	b.signIn("dave", "/")
	for _, tt := range []struct{ query, field, message string }{
		{"q=ab", "q", "Type at least 3 characters."},
		{"from=yesterday", "from", "Not a date and time"},
		{"from=2025-02-01&to=2025-01-01", "to", "Must be later than From."},
		{"action=request.teleported", "action", "There is no action"},
		{"subject_type=planet", "subject_type", "There is no subject type"},
		{"before=abc", "before", "That page link is broken"},
	} {
		page := b.get("/audit?" + tt.query)
		require.Equal(t, http.StatusUnprocessableEntity, page.status, tt.query)
		require.True(t, strings.Contains(page.body, tt.message), "%s: message missing", tt.query)
		if tt.field != "before" { // a broken page link has no field to point at
			require.True(t, strings.Contains(page.body, `data-testid="`+tt.field+`-error"`), "%s: field error missing", tt.query)
			require.True(t, strings.Contains(page.body, `aria-describedby="`+tt.field+`-error"`), "%s: input not tied to its error", tt.query)
		}
		frag := b.get("/audit?"+tt.query, "HX-Request", "true")
		require.Equal(t, http.StatusUnprocessableEntity, frag.status)
		require.Contains(t, frag.body, `data-testid="audit-filter-errors"`)
	}
	// A date alone is a whole day from midnight UTC.
	require.Equal(t, http.StatusOK, b.get("/audit?from=2025-01-01&to=2099-01-01T10:30").status)
}

func TestAuditExportFromThePage(t *testing.T) {
	t.Parallel()
	env := auditEnv(t, 40)
	b := env.browser()
	b.signIn("erin", "/")
	page := b.get("/audit?q=needle")
	shown := rowSeqs(t, page.body)
	require.Len(t, shown, 8)
	l := links(page.body)

	jsonl := b.get(l["export-jsonl"])
	require.Equal(t, http.StatusOK, jsonl.status)
	require.Equal(t, "application/jsonl; charset=utf-8", jsonl.header.Get("Content-Type"))
	require.Equal(t, `attachment; filename="clusterdesk-audit-to-40.jsonl"`, jsonl.header.Get("Content-Disposition"))
	var exported []int64
	for _, line := range strings.SplitAfter(strings.TrimSuffix(jsonl.body, "\n"), "\n") {
		var row struct {
			Seq  int64      `json:"seq"`
			Hash audit.Hash `json:"hash"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &row))
		exported = append(exported, row.Seq)
		line = strings.TrimSuffix(line, "\n") + "\n"
		canonical := strings.Replace(line, `,"hash":"`+row.Hash.String()+`"`, "", 1)
		require.Equal(t, row.Hash, audit.Hash(sha256.Sum256([]byte(canonical))))
	}
	slices.Reverse(exported)
	require.Equal(t, shown, exported, "the export holds what the page shows")

	// The CSV, asked for later, also holds the first export's event: its
	// record of the filter mentions "needle".
	csvFile := b.get(l["export-csv"])
	require.Equal(t, http.StatusOK, csvFile.status)
	records, err := csv.NewReader(strings.NewReader(csvFile.body)).ReadAll()
	require.NoError(t, err)
	var csvSeqs []int64
	for _, r := range records[1:] {
		n, err := strconv.ParseInt(r[0], 10, 64)
		require.NoError(t, err)
		csvSeqs = append(csvSeqs, n)
	}
	oldestFirst := slices.Clone(shown)
	slices.Reverse(oldestFirst)
	require.Equal(t, append(oldestFirst, 41), csvSeqs)

	// Both downloads are in the log, by erin, with the filter.
	exports, err := audit.List(t.Context(), env.pool, audit.Filter{Actions: []audit.Action{audit.AuditExported}}, audit.PageRequest{})
	require.NoError(t, err)
	require.Len(t, exports.Entries, 2)
	require.Equal(t, "Erin Evans", exports.Entries[0].Actor.Name)
	require.Contains(t, string(exports.Entries[0].Data), `"text": "needle"`)

	require.Equal(t, http.StatusBadRequest, b.get("/audit/export?format=xml").status)
}

func TestAuditIntegrityCheckPage(t *testing.T) {
	t.Parallel()
	env := auditEnv(t, 5)
	b := env.browser()
	b.signIn("erin", "/")

	page := b.get("/audit/verify")
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, `data-testid="verify-none"`)
	token := csrfFieldRE.FindStringSubmatch(page.body)[1]

	run := b.postOnce("/audit/verify", url.Values{"csrf_token": {token}})
	require.Equal(t, http.StatusSeeOther, run.status)
	page = b.get("/audit/verify")
	require.Contains(t, page.body, "Intact.")
	require.Contains(t, page.body, "ok, 5 events, head hash")
	require.NotContains(t, b.get("/audit").body, `data-testid="audit-broken"`)

	// Someone with the database's keys edits event 3.
	_, err := env.pool.Exec(t.Context(), "ALTER TABLE audit_log DISABLE TRIGGER USER")
	require.NoError(t, err)
	_, err = env.pool.Exec(t.Context(), `UPDATE audit_log SET data = '{"i": 2, "note": "nothing to see"}' WHERE seq = 3`)
	require.NoError(t, err)

	require.Equal(t, http.StatusSeeOther, b.postOnce("/audit/verify", url.Values{"csrf_token": {token}}).status)
	page = b.get("/audit/verify")
	require.Contains(t, page.body, "BROKEN at seq 3")
	banner := b.get("/audit")
	require.Contains(t, banner.body, `data-testid="audit-broken"`)
	require.Contains(t, banner.body, "Event 3 does not match the chain")

	event := b.get("/audit/events/3")
	require.Contains(t, event.body, `data-testid="hash-mismatch"`)
	require.Contains(t, b.get("/audit/events/2").body, `data-testid="hash-ok"`)
	require.Equal(t, http.StatusNotFound, b.get("/audit/events/999").status)

	// Without the CSRF token the check does not run.
	require.Equal(t, http.StatusForbidden, b.postOnce("/audit/verify", url.Values{}).status)
}

// peopleAuditEnv is the portal after alice, bob and erin signed in, with
// an audit log of what alice and bob did to two clusters' requests and
// what the worker did; it returns the people's ids and the events.
func peopleAuditEnv(t *testing.T) (*signinEnv, map[string]string, []audit.Entry) {
	t.Helper()
	env := newSigninEnv(t, signinOptions{})
	ids := map[string]string{}
	for _, who := range []string{"alice", "bob", "erin"} {
		env.browser().signIn(who, "/")
		var id int64
		require.NoError(t, env.pool.QueryRow(t.Context(), "SELECT id FROM users WHERE username = $1", who).Scan(&id))
		ids[who] = strconv.FormatInt(id, 10)
	}
	alice, bob := audit.User(ids["alice"], "Alice Anderson"), audit.User(ids["bob"], "Bob Brown")
	onCluster := func(name string) map[string]any { return map[string]any{"cluster_name": name, "revision": 1} }
	events := []audit.Event{
		{Actor: audit.User(ids["alice"], "alice"), Action: audit.AuthSignIn, Subject: audit.Subject{Type: audit.SubjectUser, ID: ids["alice"]}, Data: map[string]any{}},
		{Actor: alice, Action: audit.RequestCreated, Subject: audit.Subject{Type: audit.SubjectRequest, ID: "7"}, Data: onCluster("sales-eu")},
		{Actor: alice, Action: audit.RequestCreated, Subject: audit.Subject{Type: audit.SubjectRequest, ID: "8"}, Data: onCluster("billing")},
		{Actor: bob, Action: audit.RequestApproved, Subject: audit.Subject{Type: audit.SubjectRequest, ID: "7"}, Data: onCluster("sales-eu")},
		{Actor: audit.System("worker"), Action: audit.SubmissionStarted, Subject: audit.Subject{Type: audit.SubjectRequest, ID: "7"}, Data: onCluster("sales-eu")},
		{Actor: audit.System("worker"), Action: audit.ClusterDriftDetected, Subject: audit.Subject{Type: audit.SubjectCluster, ID: "uid-sales"}, Data: map[string]any{"cluster_uid": "uid-sales", "cluster_name": "sales-eu"}},
		{Actor: bob, Action: audit.RequestApproved, Subject: audit.Subject{Type: audit.SubjectRequest, ID: "8"}, Data: onCluster("billing")},
	}
	var entries []audit.Entry
	for _, e := range events {
		require.NoError(t, pgx.BeginFunc(t.Context(), env.pool, func(tx pgx.Tx) error {
			entry, err := audit.Append(t.Context(), tx, e)
			entries = append(entries, entry)
			return err
		}))
	}
	// Chained, as the worker would have done by the time anyone looks.
	_, err := audit.ChainAll(t.Context(), env.pool)
	require.NoError(t, err)
	return env, ids, entries
}

func TestAuditFiltersByPersonClusterAndRequest(t *testing.T) {
	t.Parallel()
	env, ids, _ := peopleAuditEnv(t)
	b := env.browser()
	b.signIn("erin", "/")

	for _, tt := range []struct {
		query  string
		seqs   []int64
		chip   string // the active filter as the page says it
		note   string // how it matched
		person string // the person field's value afterwards
	}{
		{"person=alice", []int64{3, 2, 1}, "person: Alice Anderson (alice)", "by username", "alice"},
		{"person=ALICE+anderson", []int64{3, 2, 1}, "person: Alice Anderson (alice)", "by name", "ALICE anderson"},
		{"person=Alice", []int64{3, 2, 1}, "person: Alice Anderson (alice)", "by username", "Alice"},
		{"person=Ander", []int64{3, 2, 1}, "person: Alice Anderson (alice)", `&#34;Ander&#34; is part of the name`, "Ander"},
		{"person=worker", []int64{6, 5}, "person: Clusterdesk worker", "by name", "worker"},
		// Older links and bookmarks name the actor by id.
		{"actor=" + ids["bob"], []int64{7, 4}, "person: Bob Brown (bob)", "", "bob"},
		{"cluster=SALES-EU", []int64{6, 5, 4, 2}, "cluster: SALES-EU", "its own events and its requests&#39;", ""},
		{"request=7", []int64{5, 4, 2}, "request: #7", "with its submission", ""},
		{"request=%237&person=bob", []int64{4}, "request: #7", "", "bob"},
	} {
		page := b.get("/audit?" + tt.query)
		require.Equal(t, http.StatusOK, page.status, tt.query)
		require.Equal(t, tt.seqs, rowSeqs(t, page.body), tt.query)
		require.Contains(t, page.body, tt.chip, tt.query)
		require.Contains(t, page.body, tt.note, tt.query)
		if tt.person != "" {
			require.Contains(t, page.body, `name="person" value="`+tt.person+`"`, tt.query)
		}
		// The export selects what the page shows.
		export := b.get(links(page.body)["export-jsonl"])
		require.Equal(t, http.StatusOK, export.status, tt.query)
		require.Len(t, strings.Split(strings.TrimSpace(export.body), "\n"), len(tt.seqs), tt.query)
	}

	// Part of two people's names: both, and a link to each alone.
	both := b.get("/audit?person=e")
	require.Equal(t, http.StatusOK, both.status)
	require.Subset(t, rowSeqs(t, both.body), []int64{3, 2, 1}, "alice's events, and erin's (her exports above)")
	require.Contains(t, both.body, `2 people match &#34;e&#34;`)
	require.Contains(t, both.body, `data-testid="person-choices"`)
	require.Contains(t, both.body, `href="/audit?actor=`+ids["erin"]+`"`)
}

func TestAuditRowsNamePeople(t *testing.T) {
	t.Parallel()
	env, ids, _ := peopleAuditEnv(t)
	b := env.browser()
	b.signIn("erin", "/")

	page := b.get("/audit")
	require.Equal(t, http.StatusOK, page.status)
	// A person by their name, their username beside it; the worker by its.
	require.Regexp(t, `data-testid="audit-actor">\s*Alice Anderson\s*<small class="audit-username">alice</small>`, page.body)
	require.Regexp(t, `data-testid="audit-actor">\s*Clusterdesk worker\s*</span>`, page.body)
	require.Contains(t, page.body, "person Alice Anderson", "a sign-in's subject is the person, by name")
	require.NotContains(t, page.body, "user "+ids["alice"])
	require.NotContains(t, page.body, "Person "+ids["alice"])

	// Suggestions for the person and cluster fields, in the page.
	require.Contains(t, page.body, `<option value="alice" label="Alice Anderson">`)
	require.Contains(t, page.body, `<option value="worker" label="Clusterdesk worker">`)
	require.Contains(t, page.body, `list="audit-clusters"`)

	// From an event to everything about its request, or its cluster.
	require.Contains(t, page.body, `href="/audit?request=7">its events</a>`)
	require.Contains(t, page.body, `href="/audit?cluster=sales-eu" data-testid="cluster-events"`)

	// One event's page names the person too.
	require.Contains(t, b.get("/audit/events/1").body, "person Alice Anderson")

	// A request's events in the words and states of its timeline.
	require.Regexp(t, `data-testid="audit-action">submission.started</span>(?s:.*?)`+
		`<span class="state-badge state-active" title="[^"]+" data-state="submitting">Being sent to Cloud Manager</span>\s*`+
		`<span class="audit-said" data-testid="audit-said">Clusterdesk sent the change to Cloud Manager.</span>`, page.body)
	require.NotRegexp(t, `data-testid="audit-action">cluster.drift_detected</span>(?s:[^/]*?)audit-said`, page.body,
		"other events keep their action alone")
}

func TestAuditPersonAndRequestMistakes(t *testing.T) {
	t.Parallel()
	env, _, _ := peopleAuditEnv(t)
	b := env.browser()
	b.signIn("erin", "/")
	for _, tt := range []struct{ query, field, message string }{
		{"person=zelda", "person", `Nobody called &#34;zelda&#34; has signed in`},
		{"request=forty-two", "request", `is not a request number`},
		{"request=-3", "request", `is not a request number`},
	} {
		page := b.get("/audit?" + tt.query)
		require.Equal(t, http.StatusUnprocessableEntity, page.status, tt.query)
		require.Contains(t, page.body, tt.message, tt.query)
		require.Contains(t, page.body, `data-testid="`+tt.field+`-error"`, tt.query)
		require.Contains(t, page.body, `aria-describedby="`+tt.field+`-error"`, tt.query)
		require.Contains(t, page.body, `data-testid="audit-filter"`, "the form, not an error page")
		frag := b.get("/audit?"+tt.query, "HX-Request", "true")
		require.Equal(t, http.StatusUnprocessableEntity, frag.status)
		require.Contains(t, frag.body, "Person: Nobody called"[:0]+tt.message)
	}
	// The export refuses it with the same words.
	require.Equal(t, http.StatusBadRequest, b.get("/audit/export?format=csv&person=zelda").status)
}
