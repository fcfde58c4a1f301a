package approvals

import (
	"slices"
	"strings"
)

// FormField is an input (or a group of inputs) of the request forms that
// an error can be shown on. Name is the form field name, Target the API
// path whose errors it shows (the API's details[].target and the diff's
// paths use the same dotted form), Section the fieldset it belongs to.
type FormField struct {
	Name    string
	Target  string
	Label   string
	Section string
}

// formFields is the single table between API paths and the form. Objects
// (spec.master, spec.data.tier1 …) map to their fieldset, so an error such
// as "spec.data.tier1 must not be null" has a place too.
var formFields = func() []FormField {
	f := []FormField{
		{"name", "metadata.name", "Cluster name", "cluster"},
		{"name", "metadata", "Cluster name", "cluster"},
		{"spec_json", "spec", "Specification (JSON)", "advanced"},
		{"version", "spec.version", "Imply version", "cluster"},
		{"desired_state", "spec.desiredState", "Desired state", "cluster"},
		{"aws_instance_role", "spec.awsInstanceRole", "AWS instance role", "aws"},
		{"aws_key_pair", "spec.awsKeyPair", "AWS key pair", "aws"},
		{"aws_tags", "spec.awsTags", "AWS tags", "aws"},
		{"encrypt_volumes", "spec.encryptVolumes", "Encrypt volumes", "aws"},
		{"common_runtime_properties", "spec.commonRuntimeProperties", "Common runtime properties", "common"},
		{"master", "spec.master", "Master servers", "master"},
		{"master_replicas", "spec.master.replicas", "Master replicas", "master"},
		{"master_instance_type", "spec.master.instanceType", "Master instance type", "master"},
		{"master_coordinator_runtime_properties", "spec.master.coordinatorRuntimeProperties", "Coordinator runtime properties", "master"},
		{"master_overlord_runtime_properties", "spec.master.overlordRuntimeProperties", "Overlord runtime properties", "master"},
		{"query", "spec.query", "Query servers", "query"},
		{"query_replicas", "spec.query.replicas", "Query replicas", "query"},
		{"query_instance_type", "spec.query.instanceType", "Query instance type", "query"},
		{"query_broker_runtime_properties", "spec.query.brokerRuntimeProperties", "Broker runtime properties", "query"},
		{"query_router_runtime_properties", "spec.query.routerRuntimeProperties", "Router runtime properties", "query"},
		{"query_pivot_configuration", "spec.query.pivotConfiguration", "Pivot configuration", "query"},
		{"data", "spec.data", "Data servers", "data"},
		{"data_historical_runtime_properties", "spec.data.historicalRuntimeProperties", "Historical runtime properties (all tiers)", "data"},
		{"data_middle_manager_runtime_properties", "spec.data.middleManagerRuntimeProperties", "MiddleManager runtime properties (all tiers)", "data"},
	}
	for _, tier := range []string{"1", "2", "3"} {
		name, target, label, section := "data_tier"+tier, "spec.data.tier"+tier, "Data tier "+tier, "tier"+tier
		f = append(f,
			FormField{name, target, label, section},
			FormField{name + "_replicas", target + ".replicas", label + " replicas", section},
			FormField{name + "_instance_type", target + ".instanceType", label + " instance type", section},
			FormField{name + "_historical_runtime_properties", target + ".historicalRuntimeProperties", label + " Historical runtime properties", section},
			FormField{name + "_middle_manager_runtime_properties", target + ".middleManagerRuntimeProperties", label + " MiddleManager runtime properties", section},
		)
	}
	return append(f,
		FormField{"metadata_store", "spec.metadataStore", "Metadata store", "metadata_store"},
		FormField{"metadata_store_instance_type", "spec.metadataStore.instanceType", "Metadata store instance class", "metadata_store"},
		FormField{"metadata_store_disk_size", "spec.metadataStore.diskSize", "Metadata store disk size (GiB)", "metadata_store"},
		FormField{"metadata_store_backup_retention", "spec.metadataStore.backupRetention", "Backup retention (days)", "metadata_store"},
		FormField{"metadata_store_monitoring", "spec.metadataStore.monitoring", "Enhanced monitoring", "metadata_store"},
		FormField{"metadata_store_encrypt", "spec.metadataStore.encrypt", "Encrypt the metadata store", "metadata_store"},
		FormField{"pivot", "spec.pivot", "Pivot access", "pivot"},
		FormField{"pivot_access_mode", "spec.pivot.accessMode", "Pivot access mode", "pivot"},
		FormField{"pivot_url", "spec.pivot.url", "Pivot URL", "pivot"},
		FormField{"pivot_role_authority", "spec.pivot.roleAuthority", "Pivot role authority", "pivot"},
		FormField{"pivot_options", "spec.pivot.options", "Pivot access options", "pivot"},
		FormField{"deep_storage", "spec.deepStorage", "Deep storage", "deep_storage"},
		FormField{"deep_storage_path", "spec.deepStorage.path", "Deep storage path", "deep_storage"},
		FormField{"deep_storage_encrypt", "spec.deepStorage.encrypt", "Encrypt deep storage", "deep_storage"},
		FormField{"druid_extensions", "spec.druidExtensions", "Druid extensions", "extensions"},
		FormField{"custom_druid_extensions", "spec.customDruidExtensions", "Custom Druid extensions", "extensions"},
		FormField{"feature_flags", "spec.featureFlags", "Feature flags", "extensions"},
		FormField{"custom_files", "spec.customFiles", "Custom files", "custom_files"},
	)
}()

var fieldByTarget = func() map[string]FormField {
	m := make(map[string]FormField, len(formFields))
	for _, f := range formFields {
		m[f.Target] = f
	}
	return m
}()

// FormFields lists the form's fields in form order, one per name (a field
// that shows the errors of several targets appears once).
func FormFields() []FormField {
	var out []FormField
	for _, f := range formFields {
		if !slices.ContainsFunc(out, func(g FormField) bool { return g.Name == f.Name }) {
			out = append(out, f)
		}
	}
	return out
}

// FieldForTarget returns the form field that shows errors about an API
// path: an exact entry of the table, or for an item of a list
// ("spec.awsTags[2].name", `spec.awsTags["team"]`) the list's field. ok is
// false when no field shows it: such errors go to the list at the top of
// the form. Errors about the whole spec (target "spec", e.g. "this change
// needs a hard update") belong to the JSON editor, spec_json; a form that
// does not show the editor lists them at the top.
func FieldForTarget(target string) (field string, ok bool) {
	if f, found := fieldByTarget[target]; found {
		return f.Name, true
	}
	if i := strings.IndexByte(target, '['); i > 0 {
		if f, found := fieldByTarget[target[:i]]; found {
			return f.Name, true
		}
	}
	return "", false
}
