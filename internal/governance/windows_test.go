package governance_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/governance"
)

// TestNextOpen: when a change on a cluster may be sent, given windows in a
// named time zone and freezes.
func TestNextOpen(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 12, day, hour, minute, 0, 0, berlin) } // 3 Dec 2026 is a Thursday
	prod := governance.Window{Name: "production", Environments: []string{"production"}, Weekdays: []int{1, 2, 3, 4},
		Start: 9 * 60, End: 16 * 60, TimeZone: "Europe/Berlin"}
	yearEnd := governance.Freeze{Reason: "end of year", Starts: at(20, 0, 0), Ends: time.Date(2027, 1, 4, 12, 0, 0, 0, berlin)}
	payments := governance.Freeze{Reason: "payments launch", Starts: at(3, 10, 0), Ends: at(3, 12, 0), Teams: []string{"payments"}}
	windows := []governance.Window{prod}
	freezes := []governance.Freeze{yearEnd, payments}

	for _, tc := range []struct {
		name      string
		team, env string
		t         time.Time
		until     time.Time
		why       string
	}{
		{"inside the window", "search", "production", at(3, 10, 0), time.Time{}, ""},
		{"after hours on Thursday: Monday morning", "search", "production", at(3, 17, 0), at(7, 9, 0), "the change window production: Mon, Tue, Wed, Thu 09:00–16:00 Europe/Berlin"},
		{"before opening", "search", "production", at(2, 7, 30), at(2, 9, 0), "the change window"},
		{"the closing minute is closed", "search", "production", at(3, 16, 0), at(7, 9, 0), "the change window"},
		{"no window covers staging", "search", "staging", at(5, 3, 0), time.Time{}, ""},
		{"a team's freeze, inside the window", "payments", "production", at(3, 11, 0), at(3, 12, 0), "the freeze payments launch"},
		{"the freeze is the team's only", "search", "production", at(3, 11, 0), time.Time{}, ""},
		{"the year-end freeze, then the next window", "search", "production", at(22, 10, 0), time.Date(2027, 1, 4, 12, 0, 0, 0, berlin), "the freeze end of year"},
		{"the year-end freeze holds staging too", "search", "staging", at(22, 10, 0), time.Date(2027, 1, 4, 12, 0, 0, 0, berlin), "the freeze end of year"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := governance.NextOpen(windows, freezes, tc.team, tc.env, tc.t)
			require.True(t, h.Until.Equal(tc.until), "until %v, want %v", h.Until, tc.until)
			require.Contains(t, h.Why, tc.why)
			require.Equal(t, !tc.until.IsZero(), h.Holds())
		})
	}

	// Seen from UTC the same instants hold.
	h := governance.NextOpen(windows, nil, "", "production", at(3, 17, 0).UTC())
	require.True(t, h.Until.Equal(at(7, 9, 0)))
}

// TestWindowAcrossMidnight: a window whose closing time is before its
// opening time closes on the next day, also on the nights the clocks
// change (Europe/Berlin: 28 March 2027 02:00 CET → 03:00 CEST, 31 October
// 2027 03:00 CEST → 02:00 CET).
func TestWindowAcrossMidnight(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	local := func(month time.Month, day, hour, minute int) time.Time {
		return time.Date(2027, month, day, hour, minute, 0, 0, berlin)
	}
	utc := func(month time.Month, day, hour, minute int) time.Time {
		return time.Date(2027, month, day, hour, minute, 0, 0, time.UTC)
	}
	night := governance.Window{Name: "night", Weekdays: []int{6}, Start: 22 * 60, End: 2 * 60, TimeZone: "Europe/Berlin"} // Saturday nights
	sunday := governance.Window{Name: "sunday", Weekdays: []int{7}, Start: 23 * 60, End: 60, TimeZone: "Europe/Berlin"}   // into Monday
	require.Equal(t, "night: Sat 22:00–02:00 the next day Europe/Berlin", night.String())

	for _, tc := range []struct {
		name  string
		w     governance.Window
		t     time.Time
		until time.Time // zero: open
	}{
		// 6 March 2027 is a Saturday, in winter time.
		{"Saturday before it opens", night, local(3, 6, 21, 0), local(3, 6, 22, 0)},
		{"Saturday at the opening", night, local(3, 6, 22, 0), time.Time{}},
		{"Saturday before midnight", night, local(3, 6, 23, 59), time.Time{}},
		{"Sunday after midnight", night, local(3, 7, 1, 59), time.Time{}},
		{"Sunday at the closing: next Saturday", night, local(3, 7, 2, 0), local(3, 13, 22, 0)},
		{"Sunday night is not a Saturday night", night, local(3, 7, 23, 0), local(3, 13, 22, 0)},
		{"Friday night: Saturday's opening", night, local(3, 5, 23, 0), local(3, 6, 22, 0)},
		{"a Sunday window is open on Monday morning", sunday, local(3, 8, 0, 30), time.Time{}},
		{"and closes at 01:00 on Monday", sunday, local(3, 8, 1, 0), local(3, 14, 23, 0)},

		// Spring forward: Saturday 27 March 22:00 CET is 21:00 UTC; the
		// night ends at 02:00 CET (01:00 UTC), which is when the clocks
		// jump to 03:00: it is closed from then.
		{"spring: open at 22:00 CET", night, utc(3, 27, 21, 0), time.Time{}},
		{"spring: open at 01:59 CET", night, utc(3, 28, 0, 59), time.Time{}},
		{"spring: closed at 03:00 CEST, the next opening in summer time", night, utc(3, 28, 1, 0), utc(4, 3, 20, 0)},
		{"spring: waiting on Saturday afternoon", night, utc(3, 27, 15, 0), utc(3, 27, 21, 0)},

		// Fall back: Saturday 30 October 22:00 CEST is 20:00 UTC; 02:00
		// CEST (00:00 UTC) closes it, before the clocks go back to 02:00
		// CET at 01:00 UTC.
		{"fall: open at 22:00 CEST", night, utc(10, 30, 20, 0), time.Time{}},
		{"fall: open at 01:59 CEST", night, utc(10, 30, 23, 59), time.Time{}},
		{"fall: closed at 02:00 CEST", night, utc(10, 31, 0, 0), utc(11, 6, 21, 0)},
		{"fall: closed in the repeated hour (02:30 CET)", night, utc(10, 31, 1, 30), utc(11, 6, 21, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := governance.NextOpen([]governance.Window{tc.w}, nil, "", "production", tc.t)
			require.True(t, h.Until.Equal(tc.until), "until %v, want %v", h.Until, tc.until)
		})
	}
}

// TestWindowAdd: a window crossing midnight is stored (the check of
// migration 00121 is relaxed); 00:00 as a closing time is midnight; one
// that closes when it opens is refused.
func TestWindowAdd(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	w, err := f.admin.WindowAdd(ctx, f.dave, governance.Window{Name: "night", Weekdays: []int{5}, Start: 22 * 60, End: 2 * 60, TimeZone: "Europe/Berlin"})
	require.NoError(t, err)
	require.Equal(t, 120, w.End)
	w, err = f.admin.WindowAdd(ctx, f.dave, governance.Window{Name: "evening", Weekdays: []int{5}, Start: 22 * 60, End: 0, TimeZone: "Europe/Berlin"})
	require.NoError(t, err)
	require.Equal(t, 1440, w.End, "closing at 00:00 is midnight")
	list, err := governance.WindowList(ctx, f.pool)
	require.NoError(t, err)
	require.Len(t, list, 2)
	_, err = f.admin.WindowAdd(ctx, f.dave, governance.Window{Name: "never", Weekdays: []int{5}, Start: 9 * 60, End: 9 * 60, TimeZone: "UTC"})
	require.ErrorIs(t, err, governance.ErrInvalid)
	_, err = f.pool.Exec(ctx, `INSERT INTO change_windows (name, weekdays, start_minute, end_minute, time_zone) VALUES ('x', '{1}', 60, 60, 'UTC')`)
	require.Error(t, err, "the database refuses it too")
}
