package auth

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/sqltext"
)

// PeopleQuerier runs queries: a pool, a connection or a transaction.
type PeopleQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Person is someone who signed in, as other people see them.
type Person struct {
	ID       int64
	Username string
	// Name is the display name; it may be empty.
	Name string
}

// DisplayName is the name to show: the display name, else the username.
func (p Person) DisplayName() string {
	if p.Name != "" {
		return p.Name
	}
	return p.Username
}

// PersonMatch says how a text found the people PeopleMatching returns.
type PersonMatch string

// The ways a text finds people, best first: PeopleMatching returns only
// the people found the best way.
const (
	MatchID       PersonMatch = "id"       // the text is their user id
	MatchUsername PersonMatch = "username" // their username, ignoring case
	MatchName     PersonMatch = "name"     // their display name, ignoring case
	MatchPartial  PersonMatch = "partial"  // part of the username or display name
)

// MaxPeopleMatching bounds the people one text may find.
const MaxPeopleMatching = 20

// PeopleMatching finds the people a text names: their id, username or
// display name exactly (ignoring case), else part of either. It returns
// the people found the best way, by name, at most MaxPeopleMatching+1 (so
// the caller can tell "too many"), and how they matched. Nobody matching
// is an empty list, not an error.
func PeopleMatching(ctx context.Context, q PeopleQuerier, text string) ([]Person, PersonMatch, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, "", nil
	}
	id, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		id = 0
	}
	rows, err := q.Query(ctx, `
		WITH ranked AS (
			SELECT id, username, name,
			       CASE WHEN id = $1 THEN 0
			            WHEN lower(username) = lower($2) THEN 1
			            WHEN lower(name) = lower($2) THEN 2
			            ELSE 3 END AS rank
			FROM users
			WHERE id = $1 OR username ILIKE $3 OR name ILIKE $3
		)
		SELECT id, username, name, rank FROM ranked
		WHERE rank = (SELECT min(rank) FROM ranked)
		ORDER BY lower(coalesce(nullif(name, ''), username)), id
		LIMIT $4`, id, text, sqltext.Contains(text), MaxPeopleMatching+1)
	if err != nil {
		return nil, "", fmt.Errorf("auth: people matching %q: %w", text, err)
	}
	var rank int
	people, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Person, error) {
		var p Person
		err := row.Scan(&p.ID, &p.Username, &p.Name, &rank)
		return p, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("auth: people matching %q: %w", text, err)
	}
	if len(people) == 0 {
		return nil, "", nil
	}
	return people, []PersonMatch{MatchID, MatchUsername, MatchName, MatchPartial}[rank], nil
}

// PeopleByID returns the people with these ids, by id; ids nobody has are
// left out.
func PeopleByID(ctx context.Context, q PeopleQuerier, ids []int64) (map[int64]Person, error) {
	out := make(map[int64]Person, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT id, username, name FROM users WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("auth: people by id: %w", err)
	}
	people, err := pgx.CollectRows(rows, scanPerson)
	if err != nil {
		return nil, fmt.Errorf("auth: people by id: %w", err)
	}
	for _, p := range people {
		out[p.ID] = p
	}
	return out, nil
}

// PeopleDirectory lists up to limit people, by display name, for
// suggestions.
func PeopleDirectory(ctx context.Context, q PeopleQuerier, limit int) ([]Person, error) {
	rows, err := q.Query(ctx, `
		SELECT id, username, name FROM users
		ORDER BY lower(coalesce(nullif(name, ''), username)), id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("auth: people directory: %w", err)
	}
	people, err := pgx.CollectRows(rows, scanPerson)
	if err != nil {
		return nil, fmt.Errorf("auth: people directory: %w", err)
	}
	return people, nil
}

func scanPerson(row pgx.CollectableRow) (Person, error) {
	var p Person
	err := row.Scan(&p.ID, &p.Username, &p.Name)
	return p, err
}
