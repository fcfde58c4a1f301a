package templates

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/a-h/templ"
)

// canReadAudit reports whether the signed-in person may open the audit log
// (the routes decide; this only shows the link).
func (p Page) canReadAudit() bool {
	return p.User != nil && (slices.Contains(p.User.Roles, "auditor") || slices.Contains(p.User.Roles, "admin"))
}

// hasAccess reports whether the signed-in person has a role at all: the
// pages behind the menu answer "no access" to everyone else, so the menu
// does not offer them.
func (p Page) hasAccess() bool {
	return p.User != nil && len(p.User.Roles) > 0
}

// canApprove reports whether the signed-in person sees the approvals queue
// (the routes decide; this only shows the link).
func (p Page) canApprove() bool {
	return p.User != nil && slices.Contains(p.User.Roles, "approver")
}

// canRequest reports whether the signed-in person may file change requests
// (the routes decide; this only shows the buttons).
func (p Page) canRequest() bool {
	return p.User != nil && slices.Contains(p.User.Roles, "requester")
}

// fieldErrorAttrs ties an input to its error message, when it has one.
func fieldErrorAttrs(errors map[string]string, field string) templ.Attributes {
	if _, ok := errors[field]; !ok {
		return templ.Attributes{}
	}
	return templ.Attributes{"aria-invalid": "true", "aria-describedby": field + "-error"}
}

func anySelected(options []AuditOption) bool {
	for _, o := range options {
		if o.Selected {
			return true
		}
	}
	return false
}

// selectedCount is " (3 chosen)", or nothing when none is.
func selectedCount(options []AuditOption) string {
	n := 0
	for _, o := range options {
		if o.Selected {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d chosen)", n)
}

// fmtInt writes a whole number for people: 1,234,567.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// FormatCount is fmtInt for view models.
func FormatCount(n int64) string { return fmtInt(n) }
