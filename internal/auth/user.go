package auth

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is a person who signed in, as of their last sign-in.
type User struct {
	ID int64
	// Issuer and Subject identify the person; nothing else does.
	Issuer, Subject string
	Username        string
	Name            string
	Email           string
	// Groups are the provider's groups at the last sign-in.
	Groups    []string
	LastLogin time.Time
	// Roles derive from Groups through the configured mapping.
	Roles []Role
}

// Has reports whether the person holds role.
func (u User) Has(role Role) bool { return slices.Contains(u.Roles, role) }

// HasAnyRole reports whether the person may use the portal at all.
func (u User) HasAnyRole() bool { return len(u.Roles) > 0 }

// userUpsert records a sign-in: the person is found by (issuer, subject)
// and their name, email and groups are replaced with what the provider says
// now.
func userUpsert(ctx context.Context, tx pgx.Tx, id identity, now time.Time) (User, error) {
	u := User{Issuer: id.Issuer, Subject: id.Subject, Username: id.Username, Name: id.Name, Email: id.Email, Groups: id.Groups, LastLogin: now}
	err := tx.QueryRow(ctx, `
		INSERT INTO users (issuer, subject, username, name, email, groups, last_login_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (issuer, subject) DO UPDATE
		SET username = EXCLUDED.username, name = EXCLUDED.name, email = EXCLUDED.email,
		    groups = EXCLUDED.groups, last_login_at = EXCLUDED.last_login_at
		RETURNING id`,
		id.Issuer, id.Subject, id.Username, id.Name, id.Email, id.Groups, now,
	).Scan(&u.ID)
	return u, err
}
