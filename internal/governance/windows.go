package governance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/audit"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// Window is a recurring change window: on Weekdays, from Start to End
// (minutes of the day) in TimeZone. Approved changes on the clusters it
// covers are sent only while one of their windows is open. A cluster no
// window covers may change at any time (freezes aside).
//
// A window whose End is before its Start crosses midnight: it opens on
// its weekdays at Start and closes at End on the next day (Fri 22:00–02:00
// is open from Friday 22:00 to Saturday 02:00). Times are the wall clock
// of TimeZone, so across a change of daylight saving time a window keeps
// its local opening and closing times (and a night window is an hour
// shorter or longer).
type Window struct {
	ID           int64    `json:"id"`
	Name         string   `json:"name"`
	Environments []string `json:"environments"` // empty: every environment
	Teams        []string `json:"teams"`        // empty: every team
	// Weekdays are ISO weekdays: 1 Monday … 7 Sunday.
	Weekdays []int  `json:"weekdays"`
	Start    int    `json:"start_minute"`
	End      int    `json:"end_minute"`
	TimeZone string `json:"time_zone"`
}

// Freeze holds every change it covers from Starts to Ends.
type Freeze struct {
	ID           int64     `json:"id"`
	Reason       string    `json:"reason"`
	Starts       time.Time `json:"starts_at"`
	Ends         time.Time `json:"ends_at"`
	Environments []string  `json:"environments"`
	Teams        []string  `json:"teams"`
}

func covers(envs, teams []string, team, environment string) bool {
	return (len(envs) == 0 || slices.Contains(envs, environment)) && (len(teams) == 0 || slices.Contains(teams, team))
}

// String says the window in words: "production: Mon–Thu 09:00–16:00 Europe/Berlin".
func (w Window) String() string {
	names := []string{"", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	var days []string
	for _, d := range w.Weekdays {
		if d >= 1 && d <= 7 {
			days = append(days, names[d])
		}
	}
	next := ""
	if w.crossesMidnight() {
		next = " the next day"
	}
	return fmt.Sprintf("%s: %s %02d:%02d–%02d:%02d%s %s", w.Name, strings.Join(days, ", "), w.Start/60, w.Start%60, w.End/60, w.End%60, next, w.TimeZone)
}

// crossesMidnight reports whether w closes on the day after it opens.
func (w Window) crossesMidnight() bool { return w.End < w.Start }

func (w Window) location() *time.Location {
	loc, err := time.LoadLocation(w.TimeZone)
	if err != nil {
		return time.UTC // refused on saving; never happens for a stored one
	}
	return loc
}

func isoWeekday(t time.Time) int {
	if d := int(t.Weekday()); d != 0 {
		return d
	}
	return 7
}

// open reports whether w is open at t: after its opening on one of its
// weekdays, or for a window that crosses midnight, before its closing on
// the day after one.
func (w Window) open(t time.Time) bool {
	local := t.In(w.location())
	minute := local.Hour()*60 + local.Minute()
	today := slices.Contains(w.Weekdays, isoWeekday(local))
	if !w.crossesMidnight() {
		return today && minute >= w.Start && minute < w.End
	}
	yesterday := slices.Contains(w.Weekdays, isoWeekday(local.AddDate(0, 0, -1)))
	return today && minute >= w.Start || yesterday && minute < w.End
}

// nextOpening returns the first time after t at which w opens.
func (w Window) nextOpening(t time.Time) time.Time {
	loc := w.location()
	local := t.In(loc)
	for d := 0; d <= 8; d++ {
		day := time.Date(local.Year(), local.Month(), local.Day()+d, 0, 0, 0, 0, loc)
		start := time.Date(day.Year(), day.Month(), day.Day(), w.Start/60, w.Start%60, 0, 0, loc)
		if slices.Contains(w.Weekdays, isoWeekday(day)) && start.After(t) {
			return start
		}
	}
	return time.Time{}
}

// Hold is why a change waits: until when, and the window or freeze that
// holds it. The zero Hold means it may be sent now.
type Hold struct {
	Until time.Time
	Why   string
}

// Holds reports whether a change is held.
func (h Hold) Holds() bool { return !h.Until.IsZero() }

// NextOpen returns when a change on a cluster of team and environment may
// be sent, at t or later: t itself (the zero Hold) when no freeze covers
// t and, if windows cover the cluster, one of them is open; else the
// first moment both hold, with the reason of the first wait.
func NextOpen(windows []Window, freezes []Freeze, team, environment string, t time.Time) Hold {
	var mine []Window
	for _, w := range windows {
		if covers(w.Environments, w.Teams, team, environment) {
			mine = append(mine, w)
		}
	}
	var hold Hold
	at := t
	// Each step moves past a freeze or to a window's opening; a bounded
	// number of them settles any real configuration.
	for range 64 {
		moved := false
		for _, f := range freezes {
			if covers(f.Environments, f.Teams, team, environment) && !at.Before(f.Starts) && at.Before(f.Ends) {
				if hold.Why == "" {
					hold.Why = "the freeze " + f.Reason
				}
				at, moved = f.Ends, true
			}
		}
		if len(mine) > 0 && !slices.ContainsFunc(mine, func(w Window) bool { return w.open(at) }) {
			var next time.Time
			var which Window
			for _, w := range mine {
				if n := w.nextOpening(at); !n.IsZero() && (next.IsZero() || n.Before(next)) {
					next, which = n, w
				}
			}
			if next.IsZero() {
				break
			}
			if hold.Why == "" {
				hold.Why = "the change window " + which.String()
			}
			at, moved = next, true
		}
		if !moved {
			break
		}
	}
	if at.Equal(t) {
		return Hold{}
	}
	hold.Until = at
	return hold
}

// WindowList returns every change window by name.
func WindowList(ctx context.Context, q Querier) ([]Window, error) {
	rows, err := q.Query(ctx, `SELECT id, name, environments, teams, weekdays, start_minute, end_minute, time_zone FROM change_windows ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("governance: list windows: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Window, error) {
		var w Window
		err := row.Scan(&w.ID, &w.Name, &w.Environments, &w.Teams, &w.Weekdays, &w.Start, &w.End, &w.TimeZone)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("governance: list windows: %w", err)
	}
	return list, nil
}

// FreezeList returns the freezes that have not ended by now, soonest
// first.
func FreezeList(ctx context.Context, q Querier, now time.Time) ([]Freeze, error) {
	rows, err := q.Query(ctx, `SELECT id, reason, starts_at, ends_at, environments, teams FROM change_freezes WHERE ends_at > $1 ORDER BY starts_at, id`, now)
	if err != nil {
		return nil, fmt.Errorf("governance: list freezes: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Freeze, error) {
		var f Freeze
		err := row.Scan(&f.ID, &f.Reason, &f.Starts, &f.Ends, &f.Environments, &f.Teams)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("governance: list freezes: %w", err)
	}
	return list, nil
}

// HoldFor returns until when approved request r waits for a window or a
// freeze, as of now (the zero Hold: it may be sent now). Emergencies are
// never held.
func HoldFor(ctx context.Context, q Querier, r approvals.Request, now time.Time) (Hold, error) {
	if emergency, err := approvals.IsEmergency(ctx, q, r.ID); err != nil || emergency {
		return Hold{}, err
	}
	windows, err := WindowList(ctx, q)
	if err != nil {
		return Hold{}, err
	}
	freezes, err := FreezeList(ctx, q, now)
	if err != nil {
		return Hold{}, err
	}
	if len(windows) == 0 && len(freezes) == 0 {
		return Hold{}, nil
	}
	environment := ""
	if len(r.Revision.Environments) > 0 {
		environment = r.Revision.Environments[0]
	}
	team := ""
	if r.Kind.OnCluster() {
		c, err := inventory.ClusterGet(ctx, q, r.ClusterUID)
		if err != nil {
			return Hold{}, fmt.Errorf("governance: hold for request %d: %w", r.ID, err)
		}
		if team, err = OwnerOf(ctx, q, c); err != nil {
			return Hold{}, err
		}
	}
	return NextOpen(windows, freezes, team, environment, now), nil
}

// WindowAdd stores w. An End before the Start closes the window on the
// next day; End 0 is midnight (1440). Errors: ErrInvalid (no name or
// weekday, an unknown time zone, a time outside the day, an end equal to
// the start).
func (ad *Admin) WindowAdd(ctx context.Context, a approvals.Actor, w Window) (Window, error) {
	w.Name, w.TimeZone = strings.TrimSpace(w.Name), strings.TrimSpace(w.TimeZone)
	w.Environments, w.Teams = cleanList(w.Environments), cleanList(w.Teams)
	if w.End == 0 {
		w.End = 1440 // closing at 00:00 is closing at midnight
	}
	if _, err := time.LoadLocation(w.TimeZone); err != nil || w.TimeZone == "" {
		return Window{}, fmt.Errorf("governance: add window: %w: %q is not a time zone (use a name like Europe/Berlin)", ErrInvalid, w.TimeZone)
	}
	switch {
	case w.Name == "":
		return Window{}, fmt.Errorf("governance: add window: %w: a window needs a name", ErrInvalid)
	case len(w.Weekdays) == 0 || slices.ContainsFunc(w.Weekdays, func(d int) bool { return d < 1 || d > 7 }):
		return Window{}, fmt.Errorf("governance: add window: %w: choose the weekdays it is open", ErrInvalid)
	case w.Start < 0 || w.Start >= 1440 || w.End < 0 || w.End > 1440:
		return Window{}, fmt.Errorf("governance: add window: %w: the opening and closing times are times of the day, 00:00 to 24:00", ErrInvalid)
	case w.End == w.Start:
		return Window{}, fmt.Errorf("governance: add window: %w: it must close at another time than it opens (00:00 to 00:00 for a whole day; a closing time before the opening closes it the next day)", ErrInvalid)
	}
	err := pgx.BeginFunc(ctx, ad.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO change_windows (name, environments, teams, weekdays, start_minute, end_minute, time_zone)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			w.Name, w.Environments, w.Teams, w.Weekdays, w.Start, w.End, w.TimeZone).Scan(&w.ID)
		if err != nil {
			return err
		}
		return appendSchedule(ctx, tx, a, audit.WindowChanged, "windows", map[string]any{"before": nil, "after": w, "window": w.String()})
	})
	if err != nil {
		return Window{}, fmt.Errorf("governance: add window: %w", err)
	}
	return w, nil
}

// WindowDelete removes window id. Errors: ErrNotFound.
func (ad *Admin) WindowDelete(ctx context.Context, a approvals.Actor, id int64) error {
	err := pgx.BeginFunc(ctx, ad.pool, func(tx pgx.Tx) error {
		var w Window
		err := tx.QueryRow(ctx, `DELETE FROM change_windows WHERE id = $1
			RETURNING id, name, environments, teams, weekdays, start_minute, end_minute, time_zone`, id).
			Scan(&w.ID, &w.Name, &w.Environments, &w.Teams, &w.Weekdays, &w.Start, &w.End, &w.TimeZone)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return appendSchedule(ctx, tx, a, audit.WindowChanged, "windows", map[string]any{"before": w, "after": nil, "window": w.String()})
	})
	if err != nil {
		return fmt.Errorf("governance: delete window %d: %w", id, err)
	}
	return nil
}

// FreezeAdd stores f. Errors: ErrInvalid (no reason, an end not after the
// start).
func (ad *Admin) FreezeAdd(ctx context.Context, a approvals.Actor, f Freeze) (Freeze, error) {
	f.Reason = strings.TrimSpace(f.Reason)
	f.Environments, f.Teams = cleanList(f.Environments), cleanList(f.Teams)
	switch {
	case f.Reason == "":
		return Freeze{}, fmt.Errorf("governance: add freeze: %w: a freeze needs a reason", ErrInvalid)
	case !f.Ends.After(f.Starts):
		return Freeze{}, fmt.Errorf("governance: add freeze: %w: a freeze must end after it starts", ErrInvalid)
	}
	err := pgx.BeginFunc(ctx, ad.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO change_freezes (reason, starts_at, ends_at, environments, teams)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, f.Reason, f.Starts, f.Ends, f.Environments, f.Teams).Scan(&f.ID)
		if err != nil {
			return err
		}
		return appendSchedule(ctx, tx, a, audit.FreezeChanged, "freezes", map[string]any{"before": nil, "after": f})
	})
	if err != nil {
		return Freeze{}, fmt.Errorf("governance: add freeze: %w", err)
	}
	return f, nil
}

// FreezeDelete removes freeze id (ending it early). Errors: ErrNotFound.
func (ad *Admin) FreezeDelete(ctx context.Context, a approvals.Actor, id int64) error {
	err := pgx.BeginFunc(ctx, ad.pool, func(tx pgx.Tx) error {
		var f Freeze
		err := tx.QueryRow(ctx, `DELETE FROM change_freezes WHERE id = $1 RETURNING id, reason, starts_at, ends_at, environments, teams`, id).
			Scan(&f.ID, &f.Reason, &f.Starts, &f.Ends, &f.Environments, &f.Teams)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return appendSchedule(ctx, tx, a, audit.FreezeChanged, "freezes", map[string]any{"before": f, "after": nil})
	})
	if err != nil {
		return fmt.Errorf("governance: delete freeze %d: %w", id, err)
	}
	return nil
}

func appendSchedule(ctx context.Context, tx pgx.Tx, a approvals.Actor, action audit.Action, subject string, data map[string]any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	_, err = audit.Append(ctx, tx, audit.Event{
		Actor: audit.User(fmt.Sprint(a.UserID), a.Name), Action: action, Origin: a.Origin,
		Subject: audit.Subject{Type: audit.SubjectSchedule, ID: subject}, Data: json.RawMessage(b),
	})
	return err
}
