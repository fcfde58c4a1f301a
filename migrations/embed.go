// Package migrations holds the database schema as goose SQL files, embedded
// in the binary. Every file has an Up and a Down section.
package migrations

import "embed"

// FS is the set of migration files, in goose's numbered naming.
//
//go:embed *.sql
var FS embed.FS
