package templates

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"github.com/clusterdesk/clusterdesk/internal/specform"
)

// SpecFormView is the create, update and edit form: the whole cluster
// spec, in fieldsets or as JSON.
type SpecFormView struct {
	// Heading says what the form does ("Request a new cluster").
	Heading string
	// ClusterUID and ClusterName are the cluster changed (update); empty
	// for create. RequestID is the request edited (edit); 0 otherwise.
	ClusterUID, ClusterName string
	RequestID               int64
	// Action is where the form posts; ValidateURL where it is checked
	// while typing.
	Action, ValidateURL string
	// NameEditable shows the name input (create); otherwise Name is shown.
	NameEditable bool
	Name, Reason string
	// Mode is "form" (the fieldsets) or "json" (SpecJSON in a textarea).
	Mode     string
	Values   url.Values
	SpecJSON string
	// SpecBase is the spec the form was built from, carried so that what
	// the form does not show survives (see specform.Decode).
	SpecBase string
	// SeenResourceVersion (update) and Revision (edit) are carried hidden.
	SeenResourceVersion string
	Revision            string
	// Presets and Clusters fill the create form (GET with ?preset= or
	// ?from=); Preset and From are the current choice.
	Presets      []SpecPresetOption
	Clusters     []SpecClusterOption
	Preset, From string
	// Check is what the validation found: errors by field, problems no
	// field shows, whether Cloud Manager was asked.
	Check SpecCheckView
	// Preview is the proposal as a request (diff, risks, what it takes),
	// nil until the form is checked without errors.
	Preview *SpecPreviewView
	// FirstError is the field that gets the focus.
	FirstError string
	// Notice is a message above the form (a rebase is needed, …);
	// RebaseURL, when set, offers the rebase button.
	Notice, RebaseURL string
	// Submit labels the submit button.
	Submit string
	Layout []specform.Section
	// HardUpdate is the choice of a hard update (the checkbox is ticked);
	// HardUpdateField is the field beside which the choice is offered
	// (one of HardUpdateFields), "" when it is not offered: Cloud Manager
	// did not ask for one and none is chosen.
	HardUpdate      bool
	HardUpdateField string
	// Changes are what the form changes on the cluster now (for a new
	// cluster: every setting it sets), in form order; they follow the
	// form as the person types, errors or not. NewCluster says they are
	// a new cluster's settings rather than changes.
	// ChangesUnknown: the form could not be read (JSON), so what it
	// changes is not known.
	Changes        []SpecChange
	NewCluster     bool
	ChangesUnknown bool
}

// SpecChange is one changed field of the review panel: its label, the
// input it links to (Field, "" when the form has none for it) and the
// values before and after, in words.
type SpecChange struct {
	Field, Label, Before, After string
}

// SpecLink is a link beside a field's error (the cluster that already has
// a name).
type SpecLink struct{ Text, URL string }

// HardUpdateFields are the fields beside which a form can offer the choice
// of a hard update: the version, the server groups' instance types (the
// changes that restart servers) and the JSON editor (the whole spec).
func HardUpdateFields() []string {
	return []string{"version", "master_instance_type", "query_instance_type",
		"data_tier1_instance_type", "data_tier2_instance_type", "data_tier3_instance_type", "spec_json"}
}

// SpecCheckView is the outcome of checking the form.
type SpecCheckView struct {
	// Errors maps a form field name to its messages.
	Errors map[string]string
	// Top lists the problems that no input shows.
	Top []string
	// API says whether Cloud Manager checked the spec, in words; APIDown
	// marks that it could not be asked.
	API     string
	APIDown bool
	// Done is true once a check ran (not on a freshly filled form).
	Done bool
	// Links are links shown after a field's error, by field name.
	Links map[string]SpecLink
}

// SpecPresetOption is one preset of the picker.
type SpecPresetOption struct{ Name, Description string }

// SpecClusterOption is one cluster to start from.
type SpecClusterOption struct{ UID, Name string }

// SpecFieldNames lists the fields that have error slots in mode: every
// approvals form field shown, the name when it is editable, the reason.
func (v SpecFormView) SpecFieldNames() []string {
	names := []string{"reason"}
	if v.NameEditable {
		names = append(names, "name")
	}
	names = append(names, "spec_json")
	if v.Mode == "json" {
		return names
	}
	for _, s := range v.Layout {
		if s.Name != "" {
			names = append(names, s.Name)
		}
		for _, in := range s.Inputs {
			if in.Kind != specform.Remove {
				names = append(names, in.Name)
			}
		}
	}
	return names
}

func (v SpecFormView) value(name string) string { return v.Values.Get(name) }

func (v SpecFormView) checked(name string) bool { return v.Values.Get(name) != "" }

// rowCount is how many rows a row input shows: its values and one empty
// row to add to (two when there is none).
func (v SpecFormView) rowCount(in specform.Input) int {
	n := 0
	for _, c := range in.Columns() {
		n = max(n, len(v.Values[c]))
	}
	if n == 0 {
		return 2
	}
	return n + 1
}

func (v SpecFormView) cell(name string, i int) string {
	if vs := v.Values[name]; i < len(vs) {
		return vs[i]
	}
	return ""
}

// options are a choice's options, with a current value the list does not
// know kept as an option of its own.
func (v SpecFormView) options(in specform.Input, current string) []string {
	if current != "" && !slices.Contains(in.Options, current) {
		return append(slices.Clone(in.Options), current)
	}
	return in.Options
}

// inputAttrs ties an input to its error slot and gives the first input in
// error the focus.
func (v SpecFormView) inputAttrs(name string) templ.Attributes {
	a := templ.Attributes{"aria-describedby": name + "-error"}
	if _, bad := v.Check.Errors[name]; bad {
		a["aria-invalid"] = "true"
	}
	if name == v.FirstError {
		a["autofocus"] = true
	}
	return a
}

func (v SpecFormView) errorCount() int { return len(v.Check.Errors) + len(v.Check.Top) }

func rowLabel(label string, i int, column string) string {
	return label + ", row " + strconv.Itoa(i+1) + ": " + column
}

func triLabel(value string) string {
	switch value {
	case "true":
		return "yes"
	case "false":
		return "no"
	}
	return "not set"
}

func choiceLabel(value string) string {
	if value == "" {
		return "not set"
	}
	return value
}

// SpecErrorLink is one field's problem in the summary, linking to it.
type SpecErrorLink struct{ Field, Text string }

// summaryLinks lists the field errors in form order, with their labels.
func (v SpecFormView) summaryLinks() []SpecErrorLink {
	var out []SpecErrorLink
	for _, name := range v.SpecFieldNames() {
		if msg, ok := v.Check.Errors[name]; ok && msg != "" {
			text := msg
			if label := specLabel(name); !strings.HasPrefix(msg, label) {
				text = label + ": " + msg // a message that names its field says it once
			}
			out = append(out, SpecErrorLink{Field: name, Text: text})
		}
	}
	return out
}

func specLabel(name string) string {
	switch name {
	case "reason":
		return "Reason"
	case "name":
		return "Cluster name"
	case "spec_json":
		return "Specification (JSON)"
	}
	for _, in := range specform.Inputs() {
		if in.Name == name {
			return in.Label
		}
	}
	for _, s := range specform.Layout() {
		if s.Name == name {
			return s.Legend
		}
	}
	return name
}

func (v SpecFormView) sectionID(s specform.Section) string {
	if s.Name == "" {
		return "section-" + strings.ReplaceAll(strings.ToLower(s.Legend), " ", "-")
	}
	return s.Name // the fieldset shows the section's errors: spec.master → master
}

func (v SpecFormView) cancelURL() string {
	switch {
	case v.RequestID != 0:
		return "/requests/" + strconv.FormatInt(v.RequestID, 10)
	case v.ClusterUID != "":
		return "/clusters/" + v.ClusterUID
	}
	return "/clusters"
}

func (v SpecFormView) columnTitles(in specform.Input) []string {
	switch in.Kind {
	case specform.NameValues:
		return []string{"Name", "Value"}
	case specform.Extensions:
		return []string{"Name", "Path"}
	case specform.Files:
		return []string{"Path", "Type", "Executable", "Unpack"}
	}
	return nil
}

// fileOptions are the choices of column j of a custom file row: its type,
// or yes/no/not set; an unknown current value stays a choice.
func (v SpecFormView) fileOptions(j int, current string) []string {
	opts := []string{"", "true", "false"}
	if j == 1 {
		opts = []string{"", "USER"}
	}
	return v.options(specform.Input{Options: opts}, current)
}

func (v SpecFormView) fileOptionLabel(j int, o string) string {
	if j == 1 {
		return choiceLabel(o)
	}
	return triLabel(o)
}

// specPanelChanges is how many changes the review panel lists before it
// sends the reader to the full review.
const specPanelChanges = 8

// shownChanges are the changes the review panel lists.
func (v SpecFormView) shownChanges() []SpecChange {
	return v.Changes[:min(len(v.Changes), specPanelChanges)]
}

// moreChanges is how many changes the panel leaves to the full review.
func (v SpecFormView) moreChanges() int { return max(0, len(v.Changes)-specPanelChanges) }

// changeCount says how many fields change ("2 changes", "14 settings"
// for a new cluster).
func (v SpecFormView) changeCount() string {
	n := len(v.Changes)
	switch {
	case v.ChangesUnknown:
		return "changes not known yet"
	case v.NewCluster && n == 0:
		return "no settings yet"
	case v.NewCluster && n == 1:
		return "1 setting"
	case v.NewCluster:
		return strconv.Itoa(n) + " settings"
	case n == 0:
		return "no changes"
	case n == 1:
		return "1 change"
	}
	return strconv.Itoa(n) + " changes"
}

// problemCount says how many problems the last check found, or that the
// form was not checked yet.
func (v SpecFormView) problemCount() string {
	switch n := v.errorCount(); {
	case !v.Check.Done && n == 0:
		return "not checked yet"
	case n == 0:
		return "no problems"
	case n == 1:
		return "1 problem"
	default:
		return strconv.Itoa(n) + " problems"
	}
}

// SpecSectionLink is one entry of the form's table of contents.
type SpecSectionLink struct{ ID, Legend string }

// sections lists the form's fieldsets in order, for the table of contents.
func (v SpecFormView) sections() []SpecSectionLink {
	out := []SpecSectionLink{{ID: "section-request", Legend: "Request"}}
	if v.Mode == "json" {
		return append(out, SpecSectionLink{ID: "section-json", Legend: "Specification (JSON)"})
	}
	for _, s := range v.Layout {
		out = append(out, SpecSectionLink{ID: v.sectionID(s), Legend: s.Legend})
	}
	return append(out, SpecSectionLink{ID: "section-advanced", Legend: "Advanced"})
}

// columnTitle is the title of column j of a list input, shown above its
// cell when the rows are stacked on a narrow screen.
func (v SpecFormView) columnTitle(in specform.Input, j int) string {
	if titles := v.columnTitles(in); j < len(titles) {
		return titles[j]
	}
	return ""
}
