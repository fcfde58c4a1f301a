package handlers

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// approvalAgeHelp is the policy form's message for an age it cannot read.
const approvalAgeHelp = "Approvals expire after: type an age such as 7d (days), 36h or 90m, or leave it empty for 7 days."

// parseApprovalAge reads the policy form's "Approvals expire after": a
// number of days ("7d", or "7"), or a Go duration ("168h", "90m", "2s").
// Empty is zero: the default age (approvals.DefaultApprovalMaxAge). False
// when it is neither, or a typed zero; the domain refuses an age under a
// second.
func parseApprovalAge(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true
	}
	if days, err := strconv.Atoi(strings.TrimSuffix(s, "d")); err == nil {
		return time.Duration(days) * 24 * time.Hour, days != 0 && days <= 36500 // a century fits a Duration
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d != 0
}

// approvalAgeField writes an age as the form shows it: whole days as
// "7d", whole hours as "36h", else as Go writes a duration ("90s").
func approvalAgeField(d time.Duration) string {
	switch {
	case d > 0 && d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d > 0 && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.String()
}

// approvalAgeText says an age for people: "7 days", "1 day 12 h", "2 s".
func approvalAgeText(d time.Duration) string {
	days, rest := d/(24*time.Hour), d%(24*time.Hour)
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", days, plural(int(days), "day", "days")))
	}
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := rest / u.unit; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, u.name))
			rest -= n * u.unit
		}
	}
	if len(parts) == 0 {
		return d.String()
	}
	return strings.Join(parts, " ")
}
