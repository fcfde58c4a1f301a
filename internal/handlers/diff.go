package handlers

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/specform"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// diffRows are diff's rows for the diff table, labelled and grouped as the
// spec form has them, risky fields marked.
func diffRows(diff approvals.Diff, risks []approvals.Risk) []templates.RequestDiffRow {
	return specDiffRows(diff, risks, nil)
}

// specDiffRows are diff's rows for the diff table; with proposed (the
// spec the diff leads to), each changed section also lists its unchanged
// fields, as context the table collapses.
func specDiffRows(diff approvals.Diff, risks []approvals.Risk, proposed *cloudapi.ClusterSpec) []templates.RequestDiffRow {
	risky := map[string]bool{}
	for _, r := range risks {
		for _, p := range r.Paths {
			risky[p] = true
		}
	}
	type placed struct {
		row   templates.RequestDiffRow
		order int
	}
	var all []placed
	changed := map[string]bool{}
	for _, ch := range diff {
		pl := diffPlaceOf(ch.Path)
		row := templates.RequestDiffRow{Path: ch.Path, Group: pl.group, Label: pl.label, Change: templates.DiffChanged,
			Before: diffValue(ch.Before), After: diffValue(ch.After), Risky: risky[ch.Path]}
		switch {
		case ch.Added():
			row.Change = templates.DiffAdded
		case ch.Removed():
			row.Change = templates.DiffRemoved
		default:
			markItems(&row.Before, &row.After)
		}
		all = append(all, placed{row, pl.order})
		changed[pl.group] = true
	}
	if proposed != nil {
		if every, err := approvals.DiffSpecs(nil, proposed); err == nil {
			for _, f := range every {
				pl := diffPlaceOf(f.Path)
				if !changed[pl.group] || slices.ContainsFunc(diff, func(c approvals.Change) bool { return pathsOverlap(c.Path, f.Path) }) {
					continue
				}
				all = append(all, placed{templates.RequestDiffRow{Path: f.Path, Group: pl.group, Label: pl.label, After: diffValue(f.After), Context: true}, pl.order})
			}
		}
	}
	slices.SortStableFunc(all, func(a, b placed) int { return a.order - b.order })
	rows := make([]templates.RequestDiffRow, len(all))
	for i, p := range all {
		rows[i] = p.row
	}
	return rows
}

// restartRow is the row that names the server a restart request
// restarts: its instance id, tier, instance type and address.
func restartRow(p approvals.Payload) templates.RequestDiffRow {
	v := templates.DiffValue{Items: []templates.DiffItem{{Text: "instance id: " + p.InstanceID}}}
	if s := p.Server; s != nil {
		for _, part := range [][2]string{{"tier", strings.ToLower(s.NodeType)}, {"instance type", s.InstanceType}, {"address", s.PrivateIP}} {
			if part[1] != "" {
				v.Items = append(v.Items, templates.DiffItem{Text: part[0] + ": " + part[1]})
			}
		}
	}
	return templates.RequestDiffRow{Path: "status.servers[instanceId=" + strconv.Quote(p.InstanceID) + "]", Group: "Server",
		Label: "Server to restart", Change: templates.DiffRestart, After: v}
}

// planView is a plan for the templates.
func planView(p approvals.Plan) *templates.PlanView {
	return &templates.PlanView{Headline: p.Headline, Effects: p.Effects, Add: p.Add, Change: p.Change, Remove: p.Remove, Downtime: p.Downtime}
}

// diffPlace is where a field sits in the spec form: its section (group),
// the section's position, and its label.
type diffPlace struct {
	group, label string
	order        int
}

// otherSettings is the group of fields the form does not show.
const otherSettings = "Other settings"

// diffPlaces maps the API paths the form shows (approvals.FormFields) to
// their section legend and label in specform.Layout.
var diffPlaces = func() map[string]diffPlace {
	layout := specform.Layout()
	section := map[string]int{} // form field name -> section index
	for i, s := range layout {
		if s.Name != "" {
			section[s.Name] = i
		}
		for _, in := range s.Inputs {
			section[in.Name] = i
		}
	}
	section["name"] = 0 // the cluster's name sits above the first section
	places := map[string]diffPlace{}
	for _, f := range approvals.FormFields() {
		i, ok := section[f.Name]
		if !ok || f.Target == "metadata" {
			continue
		}
		places[f.Target] = diffPlace{group: layout[i].Legend, label: f.Label, order: i}
	}
	return places
}()

// diffPlaceOf places path: under the longest path the form shows that
// contains it, the rest of the path said after it ("AWS tags › team",
// "Custom files › s3://b/f › executable"); paths the form does not show
// go to Other settings.
func diffPlaceOf(path string) diffPlace {
	segs := pathSegments(path)
	for n := len(segs); n > 0; n-- {
		prefix := ""
		for _, s := range segs[:n] {
			prefix += s.raw
		}
		if pl, ok := diffPlaces[prefix]; ok {
			if rest := segmentNames(segs[n:]); rest != "" {
				pl.label += " › " + rest
			}
			return pl
		}
	}
	if len(segs) > 0 && segs[0].name == "spec" {
		segs = segs[1:]
	}
	return diffPlace{group: otherSettings, label: cmpOr(segmentNames(segs), path), order: len(specform.Layout())}
}

// pathSegment is one step of a diff path: raw as written (".replicas",
// `["team"]`, "[2]"), name as people read it.
type pathSegment struct{ raw, name string }

// pathSegments splits a diff path (see approvals.Change) into its steps.
func pathSegments(path string) []pathSegment {
	var segs []pathSegment
	for i := 0; i < len(path); {
		switch path[i] {
		case '[':
			if i+1 < len(path) && path[i+1] == '"' {
				quoted, err := strconv.QuotedPrefix(path[i+1:])
				if err == nil && strings.HasPrefix(path[i+1+len(quoted):], "]") {
					name, _ := strconv.Unquote(quoted)
					end := i + 1 + len(quoted) + 1
					segs = append(segs, pathSegment{path[i:end], name})
					i = end
					continue
				}
			}
			end := strings.IndexByte(path[i:], ']')
			if end < 0 {
				return append(segs, pathSegment{path[i:], path[i:]})
			}
			raw := path[i : i+end+1]
			name := raw
			if n, err := strconv.Atoi(raw[1 : len(raw)-1]); err == nil {
				name = "item " + strconv.Itoa(n+1)
			}
			segs = append(segs, pathSegment{raw, name})
			i += end + 1
		default:
			start := i
			if path[i] == '.' {
				i++
			}
			j := i
			for j < len(path) && path[j] != '.' && path[j] != '[' {
				j++
			}
			segs = append(segs, pathSegment{path[start:j], path[i:j]})
			i = j
		}
	}
	return segs
}

func segmentNames(segs []pathSegment) string {
	names := make([]string, len(segs))
	for i, s := range segs {
		names[i] = s.name
	}
	return strings.Join(names, " › ")
}

// pathsOverlap reports whether two diff paths touch the same field.
func pathsOverlap(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return a == b || strings.HasPrefix(b, a) && (b[len(a)] == '.' || b[len(a)] == '[')
}

// diffValue is a diff value for people: absent is "not set", a string
// unquoted, true and false as yes and no, a list or an object as items
// (a {name, value} pair as "name = value"), deeper values as compact JSON.
func diffValue(raw json.RawMessage) templates.DiffValue {
	if raw == nil {
		return templates.DiffValue{Unset: true}
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return templates.DiffValue{Text: string(raw)}
	}
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return templates.DiffValue{Text: "none (an empty list)"}
		}
		items := make([]templates.DiffItem, len(x))
		for i, it := range x {
			items[i] = templates.DiffItem{Text: itemText(it)}
		}
		return templates.DiffValue{Items: items}
	case map[string]any:
		if len(x) == 0 {
			return templates.DiffValue{Text: "none (empty)"}
		}
		var items []templates.DiffItem
		for _, k := range memberOrder(x) {
			items = append(items, templates.DiffItem{Text: k + ": " + scalarText(x[k])})
		}
		return templates.DiffValue{Items: items}
	}
	return templates.DiffValue{Text: scalarText(v)}
}

// itemText is an item of a list on one line: a {name, value} pair as
// "name = value", another object as "key: value, …" (name or path first).
func itemText(v any) string {
	o, ok := v.(map[string]any)
	if !ok {
		return scalarText(v)
	}
	if name, ok := o["name"].(string); ok && len(o) == 2 {
		if value, ok := o["value"]; ok {
			return name + " = " + scalarText(value)
		}
	}
	parts := make([]string, 0, len(o))
	for _, k := range memberOrder(o) {
		parts = append(parts, k+": "+scalarText(o[k]))
	}
	return strings.Join(parts, ", ")
}

// memberOrder sorts an object's members, its name or path first.
func memberOrder(o map[string]any) []string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		switch k {
		case "name":
			return 0
		case "path":
			return 1
		}
		return 2
	}
	slices.SortFunc(keys, func(a, b string) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return keys
}

func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case json.Number:
		return x.String()
	case nil:
		return "not set"
	}
	raw, _ := json.Marshal(v)
	return string(raw)
}

// markItems marks, when both sides of a change are lists, the items the
// list gains and loses.
func markItems(before, after *templates.DiffValue) {
	if len(before.Items) == 0 || len(after.Items) == 0 {
		return
	}
	has := func(items []templates.DiffItem, text string) bool {
		return slices.ContainsFunc(items, func(it templates.DiffItem) bool { return it.Text == text })
	}
	for i, it := range before.Items {
		if !has(after.Items, it.Text) {
			before.Items[i].Mark = templates.DiffRemoved
		}
	}
	for i, it := range after.Items {
		if !has(before.Items, it.Text) {
			after.Items[i].Mark = templates.DiffAdded
		}
	}
}

// diffValueText is a diff value in one line of text: JSON strings
// unquoted, absent values as "not set".
func diffValueText(raw []byte) string {
	if raw == nil {
		return "not set"
	}
	return nameValueText(raw)
}
