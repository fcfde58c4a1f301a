package governance_test

import (
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
