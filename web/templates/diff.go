package templates

import "strconv"

// PlanView is what a proposed change will do, said in one line before its
// diff (approvals.Plan).
type PlanView struct {
	Headline string
	Effects  []string
	// Add, Change and Remove count the diff's fields.
	Add, Change, Remove int
	Downtime            bool
}

// DiffChange is what a diff row does to its field.
type DiffChange string

// The changes a diff row shows.
const (
	DiffAdded   DiffChange = "added"
	DiffRemoved DiffChange = "removed"
	DiffChanged DiffChange = "changed"
	// DiffRestart is the server a restart request restarts.
	DiffRestart DiffChange = "restart"
)

// Symbol is the change's sign, shown beside its word (colour is never the
// only signal): + added, − removed, ~ changed, ↻ restarts.
func (c DiffChange) Symbol() string {
	switch c {
	case DiffAdded:
		return "+"
	case DiffRemoved:
		return "−"
	case DiffRestart:
		return "↻"
	}
	return "~"
}

// Word is the change in a word.
func (c DiffChange) Word() string {
	if c == DiffRestart {
		return "restarts"
	}
	return string(c)
}

// DiffValue is one side of a diff row, readable: a plain value (Text), a
// list or an object (Items, one a line), or nothing (Unset).
type DiffValue struct {
	Text  string
	Items []DiffItem
	Unset bool
}

// DiffItem is an item of a list or a member of an object; Mark is
// DiffAdded or DiffRemoved for an item a changed list gains or loses.
type DiffItem struct {
	Text string
	Mark DiffChange
}

// RequestDiffRow is one field of a diff: its label in the spec form and
// the form's section (Group), the raw JSON path, and the value on each
// side.
type RequestDiffRow struct {
	// Path is the raw JSON path (approvals.Change.Path).
	Path         string
	Group, Label string
	Change       DiffChange
	Before       DiffValue
	After        DiffValue
	// Risky marks a field behind a risk hint.
	Risky bool
	// Context marks an unchanged field of a changed section, shown
	// collapsed for context (After holds its value).
	Context bool
}

// diffGroup is the rows of one section of the form, in order.
type diffGroup struct {
	Name    string
	Rows    []RequestDiffRow
	Context []RequestDiffRow
}

// diffGroups groups rows by section, in the order the sections first
// appear.
func diffGroups(rows []RequestDiffRow) []diffGroup {
	var out []diffGroup
	index := map[string]int{}
	for _, r := range rows {
		i, ok := index[r.Group]
		if !ok {
			i = len(out)
			index[r.Group] = i
			out = append(out, diffGroup{Name: r.Group})
		}
		if r.Context {
			out[i].Context = append(out[i].Context, r)
		} else {
			out[i].Rows = append(out[i].Rows, r)
		}
	}
	return out
}

// changedRows are the rows that change something (not the context).
func changedRows(rows []RequestDiffRow) []RequestDiffRow {
	var out []RequestDiffRow
	for _, r := range rows {
		if !r.Context {
			out = append(out, r)
		}
	}
	return out
}

// unchangedText says how many unchanged fields a section keeps.
func unchangedText(n int, section string) string {
	word := "fields"
	if n == 1 {
		word = "field"
	}
	return strconv.Itoa(n) + " unchanged " + word + " of " + section
}

// planCounts says the counts of p as Terraform does: "1 to add, 2 to
// change, 0 to remove".
func planCount(n int, what string) string { return strconv.Itoa(n) + " to " + what }

// diffColumns is the number of columns of a diff table.
func diffColumns(before string) string {
	if before == "" {
		return "2"
	}
	return "4"
}
