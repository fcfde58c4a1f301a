// Package sqltext builds the text of SQL parameters that have a syntax of
// their own.
package sqltext

import "strings"

// likeEscaper makes text match itself in a LIKE pattern (backslash is
// PostgreSQL's default escape character).
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Contains is the LIKE (or ILIKE) pattern that matches any text holding s,
// with s's own % and _ taken as themselves.
func Contains(s string) string {
	return "%" + likeEscaper.Replace(s) + "%"
}
