package cloudcheck

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Result is what the tenant said of one assumption.
type Result string

// The results.
const (
	Confirmed    Result = "confirmed"
	Contradicted Result = "contradicted"
	NotCheckable Result = "not checkable"
)

// Finding is one assumption of the portal about the API and what the
// tenant showed of it.
type Finding struct {
	// Assumption says what the portal assumes, with the setting that
	// changes it when there is one.
	Assumption string
	// Section is where BEHAVIOUR.md discusses it, e.g. "§4".
	Section string
	// Documented is true when Imply's reference states it, false when it
	// is inferred.
	Documented bool
	Result     Result
	// Evidence is what was seen (or why nothing could be).
	Evidence string
}

// Source is the finding's section with [D] (documented) or [I]
// (inferred), as BEHAVIOUR.md tags it.
func (f Finding) Source() string {
	if f.Documented {
		return f.Section + " [D]"
	}
	return f.Section + " [I]"
}

// Report is the outcome of a check, one finding per assumption.
type Report struct {
	Findings []Finding
}

// Count returns how many findings have result r.
func (r Report) Count(result Result) int {
	n := 0
	for _, f := range r.Findings {
		if f.Result == result {
			n++
		}
	}
	return n
}

// Find returns the first finding whose assumption starts with prefix.
func (r Report) Find(prefix string) (Finding, bool) {
	for _, f := range r.Findings {
		if len(f.Assumption) >= len(prefix) && f.Assumption[:len(prefix)] == prefix {
			return f, true
		}
	}
	return Finding{}, false
}

// Write prints the report as a table and a closing count.
func (r Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tSOURCE\tASSUMPTION\tEVIDENCE")
	for _, f := range r.Findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Result, f.Source(), f.Assumption, f.Evidence)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d confirmed, %d contradicted, %d not checkable (sections refer to docs/cloud-manager-api/BEHAVIOUR.md)\n",
		r.Count(Confirmed), r.Count(Contradicted), r.Count(NotCheckable))
	return err
}
