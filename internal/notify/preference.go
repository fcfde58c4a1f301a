package notify

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Preference is a person's choice for one kind of event.
type Preference struct {
	Kind  Kind
	Email bool
	// Digest holds the emails of this kind for one daily message.
	Digest bool
}

// Preferences returns user's choice for every kind (Kinds order), the
// kind's default where they chose nothing.
func Preferences(ctx context.Context, q Querier, user int64) ([]Preference, error) {
	rows, err := q.Query(ctx, `SELECT event, email, digest FROM notify_preferences WHERE user_id = $1`, user)
	if err != nil {
		return nil, fmt.Errorf("notify: preferences of %d: %w", user, err)
	}
	chosen := map[Kind]Preference{}
	var p Preference
	_, err = pgx.ForEachRow(rows, []any{&p.Kind, &p.Email, &p.Digest}, func() error {
		chosen[p.Kind] = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("notify: preferences of %d: %w", user, err)
	}
	out := make([]Preference, 0, len(Kinds()))
	for _, k := range Kinds() {
		if c, ok := chosen[k]; ok {
			out = append(out, c)
			continue
		}
		out = append(out, Preference{Kind: k, Email: k.DefaultEmail()})
	}
	return out, nil
}

// PreferencesSet stores user's choices (kinds not among Kinds are refused).
func PreferencesSet(ctx context.Context, tx pgx.Tx, user int64, prefs []Preference) error {
	for _, p := range prefs {
		if !p.Kind.valid() {
			return fmt.Errorf("notify: preferences of %d: %w: unknown event %q", user, ErrInvalid, p.Kind)
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO notify_preferences (user_id, event, email, digest) VALUES ($1, $2, $3, $4)
			ON CONFLICT (user_id, event) DO UPDATE SET email = $3, digest = $4, updated_at = now()`,
			user, string(p.Kind), p.Email, p.Digest && p.Email)
		if err != nil {
			return fmt.Errorf("notify: preferences of %d: %w", user, err)
		}
	}
	return nil
}

func (k Kind) valid() bool {
	for _, v := range Kinds() {
		if v == k {
			return true
		}
	}
	return false
}
