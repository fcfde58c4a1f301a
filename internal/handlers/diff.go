package handlers

import (
	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// diffRows are diff's rows for the diff table, risky fields marked.
func diffRows(diff approvals.Diff, risks []approvals.Risk) []templates.RequestDiffRow {
	risky := map[string]bool{}
	for _, r := range risks {
		for _, p := range r.Paths {
			risky[p] = true
		}
	}
	rows := make([]templates.RequestDiffRow, 0, len(diff))
	for _, ch := range diff {
		rows = append(rows, templates.RequestDiffRow{Path: ch.Path, Before: diffValueText(ch.Before),
			After: diffValueText(ch.After), Risky: risky[ch.Path]})
	}
	return rows
}

// diffValueText is a diff value for people: JSON strings unquoted, absent
// values as "not set".
func diffValueText(raw []byte) string {
	if raw == nil {
		return "not set"
	}
	return nameValueText(raw)
}
