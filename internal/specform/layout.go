package specform

import (
	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

// InputKind is how one part of the spec is typed in.
type InputKind int

// The input kinds. Row kinds (NameValues, Extensions, Files) post one
// value per row under each of their column names (see Input.Columns).
const (
	Text       InputKind = iota // one line of text
	Number                      // a whole number; empty is "not set"
	TriState                    // not set, yes, no: "", "true", "false"
	Choice                      // one of Options ("" is not set)
	TextArea                    // text of several lines
	Lines                       // a list of strings, one a line
	NameValues                  // rows of name and value
	Extensions                  // rows of name and path
	Files                       // rows of path, type, executable, unpack
	Remove                      // a checkbox that removes an optional section
)

// Input is one input (or one group of row inputs) of the form. Name is its
// form field name, the one approvals.FieldForTarget gives for its API path
// (Remove inputs have names of their own).
type Input struct {
	Name, Label, Hint, Placeholder string
	Kind                           InputKind
	Options                        []string
}

// Columns are the names a row kind posts, one value per row, in order;
// nil for the other kinds.
func (in Input) Columns() []string {
	switch in.Kind {
	case NameValues:
		return []string{in.Name + "_name", in.Name + "_value"}
	case Extensions:
		return []string{in.Name + "_name", in.Name + "_path"}
	case Files:
		return []string{in.Name + "_path", in.Name + "_type", in.Name + "_executable", in.Name + "_unpack"}
	}
	return nil
}

// Section is a fieldset. Name is the form field that shows errors about
// the section as a whole (spec.master → "master"), "" when there is none.
type Section struct {
	Name, Legend, Hint string
	Inputs             []Input
}

// Layout is the form in order: every part of the spec in its fieldset.
// The cluster's name is not part of the spec; the forms show it above.
func Layout() []Section {
	in := func(name string, kind InputKind, hint string, options ...string) Input {
		return Input{Name: name, Label: label(name), Kind: kind, Hint: hint, Options: options}
	}
	tier := func(n string, optional bool) Section {
		p := "data_tier" + n
		s := Section{Name: p, Legend: "Data tier " + n, Inputs: []Input{
			in(p+"_replicas", Number, "Historical and MiddleManager servers of this tier."),
			in(p+"_instance_type", Text, "An EC2 instance type such as i3.2xlarge."),
			in(p+"_historical_runtime_properties", NameValues, ""),
			in(p+"_middle_manager_runtime_properties", NameValues, ""),
		}}
		if optional {
			s.Inputs = append(s.Inputs, Input{Name: p + "_remove", Label: "Remove data tier " + n, Kind: Remove})
		} else {
			s.Hint = "Required."
		}
		return s
	}
	return []Section{
		{Name: "", Legend: "Cluster", Inputs: []Input{
			in("version", Text, "The Imply release, such as 2024.01. Required."),
			in("desired_state", Choice, "Whether the cluster runs. Not set means started.", "", "STARTED", "STOPPED"),
		}},
		{Legend: "AWS", Inputs: []Input{
			in("aws_instance_role", Text, "The IAM instance profile the servers run with. Required."),
			in("aws_key_pair", Text, "The EC2 key pair for SSH access; empty for none."),
			in("aws_tags", NameValues, "Tags on every AWS resource of the cluster."),
			in("encrypt_volumes", TriState, ""),
		}},
		{Legend: "Common runtime properties", Inputs: []Input{
			in("common_runtime_properties", NameValues, "Druid properties for every server. A value is text; a number, true/false or a JSON object keeps its type; \"quotes\" force text."),
		}},
		{Name: "master", Legend: "Master servers", Hint: "Coordinator and Overlord. Required.", Inputs: []Input{
			in("master_replicas", Number, "1, or 3 or more for high availability."),
			in("master_instance_type", Text, "An EC2 instance type such as m5.large."),
			in("master_coordinator_runtime_properties", NameValues, ""),
			in("master_overlord_runtime_properties", NameValues, ""),
		}},
		{Name: "query", Legend: "Query servers", Hint: "Broker, Router and Pivot. Required.", Inputs: []Input{
			in("query_replicas", Number, "At least 1."),
			in("query_instance_type", Text, "An EC2 instance type such as c5.2xlarge."),
			in("query_broker_runtime_properties", NameValues, ""),
			in("query_router_runtime_properties", NameValues, ""),
			in("query_pivot_configuration", TextArea, "Pivot's configuration file, as text."),
		}},
		{Name: "data", Legend: "Data servers", Hint: "Properties for every tier. Required, with tier 1.", Inputs: []Input{
			in("data_historical_runtime_properties", NameValues, ""),
			in("data_middle_manager_runtime_properties", NameValues, ""),
		}},
		tier("1", false), tier("2", true), tier("3", true),
		{Name: "metadata_store", Legend: "Metadata store", Hint: "The RDS database of Druid's metadata. Optional.", Inputs: []Input{
			in("metadata_store_instance_type", Text, "An RDS instance class such as db.t3.small."),
			in("metadata_store_disk_size", Number, "GiB, at least 20."),
			in("metadata_store_backup_retention", Number, "Days, 0 to 35."),
			in("metadata_store_monitoring", TriState, ""),
			in("metadata_store_encrypt", TriState, ""),
			{Name: "metadata_store_remove", Label: "Remove the metadata store settings", Kind: Remove},
		}},
		{Name: "pivot", Legend: "Pivot access", Hint: "How people reach Pivot. Optional; with it, an access mode is required.", Inputs: []Input{
			in("pivot_access_mode", Choice, "PROXIED needs no URL, role authority or options; OIDC and LDAP need a role authority and options.", "", "PROXIED", "NATIVE", "OIDC", "LDAP"),
			in("pivot_url", Text, "Only with NATIVE, OIDC or LDAP."),
			in("pivot_role_authority", Choice, "Only with OIDC or LDAP.", "", "NATIVE", "EXTERNAL"),
			in("pivot_options", TextArea, "Only with OIDC or LDAP."),
			{Name: "pivot_remove", Label: "Remove the Pivot access settings", Kind: Remove},
		}},
		{Name: "deep_storage", Legend: "Deep storage", Hint: "Where Druid keeps its segments. Required.", Inputs: []Input{
			in("deep_storage_path", Text, "An S3 path: s3://bucket/prefix."),
			in("deep_storage_encrypt", TriState, ""),
		}},
		{Legend: "Extensions and feature flags", Inputs: []Input{
			in("druid_extensions", Lines, "One extension a line, such as druid-datasketches."),
			in("custom_druid_extensions", Extensions, "Extensions not bundled with Imply: a name and an s3:// path."),
			in("feature_flags", Lines, "One flag a line."),
		}},
		{Legend: "Custom files", Inputs: []Input{
			in("custom_files", Files, "Files placed on the servers."),
		}},
	}
}

// Inputs lists every input of Layout, in order.
func Inputs() []Input {
	var out []Input
	for _, s := range Layout() {
		out = append(out, s.Inputs...)
	}
	return out
}

// label is the field's label from the approvals table, the one error
// messages use too.
func label(name string) string {
	for _, f := range approvals.FormFields() {
		if f.Name == name {
			return f.Label
		}
	}
	return name
}
