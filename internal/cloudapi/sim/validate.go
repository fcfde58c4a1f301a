package sim

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Validation of full cluster documents: POST and PUT bodies and the result
// of merging a PATCH (BEHAVIOUR.md §9). Every problem becomes one detail
// whose target is the dotted path of the field: NullValue for a missing
// value, MalformedValue for anything else (the only two codes documented).
// Members the simulator does not know are accepted and kept.

// kind is the JSON type a known field must have.
type kind int

const (
	kindString kind = iota
	kindBool
	kindInt
	kindObject
	kindStrings    // array of strings
	kindObjects    // array of objects
	kindNameValues // array of {"name": string, "value": any}
)

func (k kind) String() string {
	return [...]string{"a string", "true or false", "an integer", "an object", "an array of strings", "an array of objects", "an array of {name, value} objects"}[k]
}

// field is a known member of a cluster document.
type field struct {
	path string
	kind kind
	// requiredBy is the rule that makes the field required in a full
	// document: "documented" for the documented ones, "" when optional.
	requiredBy Rule
}

const documented Rule = "documented"

// fields lists every known member, parents before children; it is the
// source of ValidationTargets.
var fields = func() []field {
	f := []field{
		{"metadata", kindObject, documented},
		{"metadata.name", kindString, documented},
		{"spec", kindObject, documented},
		{"spec.version", kindString, RuleRequiredSections},
		{"spec.desiredState", kindString, ""},
		{"spec.awsInstanceRole", kindString, RuleRequiredSections},
		{"spec.awsKeyPair", kindString, ""},
		{"spec.awsTags", kindNameValues, ""},
		{"spec.encryptVolumes", kindBool, ""},
		{"spec.commonRuntimeProperties", kindNameValues, ""},
		{"spec.master", kindObject, RuleRequiredSections},
		{"spec.master.replicas", kindInt, ""},
		{"spec.master.instanceType", kindString, ""},
		{"spec.master.coordinatorRuntimeProperties", kindNameValues, ""},
		{"spec.master.overlordRuntimeProperties", kindNameValues, ""},
		{"spec.query", kindObject, RuleRequiredSections},
		{"spec.query.replicas", kindInt, ""},
		{"spec.query.instanceType", kindString, ""},
		{"spec.query.brokerRuntimeProperties", kindNameValues, ""},
		{"spec.query.routerRuntimeProperties", kindNameValues, ""},
		{"spec.query.pivotConfiguration", kindString, ""},
		{"spec.data", kindObject, RuleRequiredSections},
		{"spec.data.historicalRuntimeProperties", kindNameValues, ""},
		{"spec.data.middleManagerRuntimeProperties", kindNameValues, ""},
	}
	for _, tier := range []string{"tier1", "tier2", "tier3"} {
		required := Rule("")
		if tier == "tier1" {
			required = RuleRequiredSections
		}
		p := "spec.data." + tier
		f = append(f,
			field{p, kindObject, required},
			field{p + ".replicas", kindInt, ""},
			field{p + ".instanceType", kindString, ""},
			field{p + ".historicalRuntimeProperties", kindNameValues, ""},
			field{p + ".middleManagerRuntimeProperties", kindNameValues, ""},
		)
	}
	return append(f,
		field{"spec.metadataStore", kindObject, ""},
		field{"spec.metadataStore.instanceType", kindString, ""},
		field{"spec.metadataStore.diskSize", kindInt, ""},
		field{"spec.metadataStore.backupRetention", kindInt, ""},
		field{"spec.metadataStore.monitoring", kindBool, ""},
		field{"spec.metadataStore.encrypt", kindBool, ""},
		field{"spec.pivot", kindObject, ""},
		field{"spec.pivot.accessMode", kindString, documented}, // required in a pivot object
		field{"spec.pivot.url", kindString, ""},
		field{"spec.pivot.roleAuthority", kindString, ""},
		field{"spec.pivot.options", kindString, ""},
		field{"spec.deepStorage", kindObject, RuleRequiredSections},
		field{"spec.deepStorage.path", kindString, RuleRequiredSections},
		field{"spec.deepStorage.encrypt", kindBool, ""},
		field{"spec.druidExtensions", kindStrings, ""},
		field{"spec.customDruidExtensions", kindObjects, ""},
		field{"spec.featureFlags", kindStrings, ""},
		field{"spec.customFiles", kindObjects, ""},
	)
}()

// ValidationTargets returns, sorted, every target path a 400 detail from
// the simulator can name: one per known field of a cluster document. A
// form layer checks that it can place an error on each of them.
func ValidationTargets() []string {
	targets := make([]string, len(fields))
	for i, f := range fields {
		targets[i] = f.path
	}
	slices.Sort(targets)
	return targets
}

var (
	s3Path          = regexp.MustCompile(`^s3://[^/]+(/.*)?$`)
	ec2InstanceType = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	rdsInstanceType = regexp.MustCompile(`^db\.[a-z][a-z0-9-]*\.[a-z0-9]+$`)
)

// validation collects the details of one document.
type validation struct {
	cfg     Config
	doc     map[string]any
	details []cloudapi.ErrorDetail
	bad     map[string]bool // paths already reported
}

// validate checks a full cluster document and returns its problems, in the
// order of the fields table, then the cross-field rules.
func (s *Server) validate(doc map[string]any) []cloudapi.ErrorDetail {
	v := &validation{cfg: s.cfg, doc: doc, bad: map[string]bool{}}
	v.types()
	v.values()
	return v.details
}

func (v *validation) report(code cloudapi.ErrorCode, target, message string) {
	if v.bad[target] {
		return
	}
	v.bad[target] = true
	v.details = append(v.details, cloudapi.ErrorDetail{Code: code, Target: target, Message: message})
}

// types reports missing required fields and fields of the wrong JSON type.
func (v *validation) types() {
	for _, f := range fields {
		parentPath, name := splitPath(f.path)
		parent, ok := v.object(parentPath)
		if !ok {
			continue // absent or wrong parent: reported on the parent
		}
		value := parent[name]
		if value == nil {
			required := f.requiredBy == documented || (f.requiredBy != "" && v.cfg.enabled(f.requiredBy))
			if required {
				v.report(cloudapi.CodeNullValue, f.path, nullMessage(f.path))
			}
			continue
		}
		if problem := typeProblem(f.kind, value); problem != "" {
			v.report(cloudapi.CodeMalformedValue, f.path, fmt.Sprintf("%s must be %s (%s)", f.path, f.kind, problem))
		}
	}
}

// values applies the documented and inferred rules to well-typed values.
func (v *validation) values() {
	malformed := func(target, message string) { v.report(cloudapi.CodeMalformedValue, target, message) }

	if name, ok := v.str("metadata.name"); ok && strings.TrimSpace(name) == "" && v.cfg.enabled(RuleNameNotEmpty) {
		malformed("metadata.name", "Cluster name must not be empty")
	}
	if version, ok := v.str("spec.version"); ok && version == "" && v.cfg.enabled(RuleVersionNotEmpty) {
		malformed("spec.version", "Version must not be empty")
	}
	if state, ok := v.str("spec.desiredState"); ok && state != string(cloudapi.DesiredStarted) && state != string(cloudapi.DesiredStopped) {
		malformed("spec.desiredState", "Desired state must be STARTED or STOPPED")
	}
	if path, ok := v.str("spec.deepStorage.path"); ok {
		valid := strings.HasPrefix(path, "s3://") && len(path) > len("s3://")
		if v.cfg.enabled(RuleS3PathPattern) {
			valid = s3Path.MatchString(path)
		}
		if !valid {
			malformed("spec.deepStorage.path", "Path is not a valid s3 path") // documented message
		}
	}

	for _, p := range []string{"spec.master", "spec.query", "spec.data.tier1", "spec.data.tier2", "spec.data.tier3"} {
		if n, ok := v.integer(p + ".replicas"); ok && n < 1 && v.cfg.enabled(RuleReplicasMin) {
			malformed(p+".replicas", "Replicas must be at least 1")
		}
		if t, ok := v.str(p + ".instanceType"); ok && !ec2InstanceType.MatchString(t) && v.cfg.enabled(RuleInstanceTypeFormat) {
			malformed(p+".instanceType", fmt.Sprintf("Instance type %q is not an EC2 instance type such as t2.small", t))
		}
	}
	if n, ok := v.integer("spec.master.replicas"); ok && n == 2 && v.cfg.enabled(RuleMasterHA) {
		malformed("spec.master.replicas", "Master replicas must be 1, or 3 or more for high availability")
	}
	if n, ok := v.integer("spec.metadataStore.diskSize"); ok && n < 20 && v.cfg.enabled(RuleDiskSizeMin) {
		malformed("spec.metadataStore.diskSize", "Disk size must be at least 20 GiB")
	}
	if n, ok := v.integer("spec.metadataStore.backupRetention"); ok && (n < 0 || n > 35) && v.cfg.enabled(RuleBackupRetention) {
		malformed("spec.metadataStore.backupRetention", "Backup retention must be between 0 and 35 days")
	}
	if t, ok := v.str("spec.metadataStore.instanceType"); ok && !rdsInstanceType.MatchString(t) && v.cfg.enabled(RuleInstanceTypeFormat) {
		malformed("spec.metadataStore.instanceType", fmt.Sprintf("Instance type %q is not an RDS instance class such as db.t3.small", t))
	}
	v.pivot()
}

// pivot applies the documented PivotAccess rules: url only with NATIVE,
// OIDC or LDAP; roleAuthority and options required with OIDC and LDAP and
// refused otherwise.
func (v *validation) pivot() {
	mode, ok := v.str("spec.pivot.accessMode")
	if !ok {
		return
	}
	switch cloudapi.AccessMode(mode) {
	case cloudapi.AccessProxied, cloudapi.AccessNative, cloudapi.AccessOIDC, cloudapi.AccessLDAP:
	default:
		v.report(cloudapi.CodeMalformedValue, "spec.pivot.accessMode", "Access mode must be PROXIED, NATIVE, OIDC or LDAP")
		return
	}
	external := mode == string(cloudapi.AccessOIDC) || mode == string(cloudapi.AccessLDAP)
	if _, ok := v.str("spec.pivot.url"); ok && mode == string(cloudapi.AccessProxied) {
		v.report(cloudapi.CodeMalformedValue, "spec.pivot.url", "URL is allowed only with access mode NATIVE, OIDC or LDAP")
	}
	authority, hasAuthority := v.str("spec.pivot.roleAuthority")
	switch {
	case external && !hasAuthority:
		v.report(cloudapi.CodeNullValue, "spec.pivot.roleAuthority", "Role authority is required with access mode "+mode)
	case !external && hasAuthority:
		v.report(cloudapi.CodeMalformedValue, "spec.pivot.roleAuthority", "Role authority is allowed only with access mode OIDC or LDAP")
	case hasAuthority && authority != string(cloudapi.RoleAuthorityNative) && authority != string(cloudapi.RoleAuthorityExternal):
		v.report(cloudapi.CodeMalformedValue, "spec.pivot.roleAuthority", "Role authority must be NATIVE or EXTERNAL")
	}
	_, hasOptions := v.str("spec.pivot.options")
	switch {
	case external && !hasOptions:
		v.report(cloudapi.CodeNullValue, "spec.pivot.options", "Options are required with access mode "+mode)
	case !external && hasOptions:
		v.report(cloudapi.CodeMalformedValue, "spec.pivot.options", "Options are allowed only with access mode OIDC or LDAP")
	}
}

// object returns the object at path ("" is the document).
func (v *validation) object(path string) (map[string]any, bool) {
	if path == "" {
		return v.doc, true
	}
	if v.bad[path] {
		return nil, false
	}
	obj, ok := lookup(v.doc, path).(map[string]any)
	return obj, ok
}

// str returns the string at path when it is present and well typed.
func (v *validation) str(path string) (string, bool) {
	if v.bad[path] {
		return "", false
	}
	s, ok := lookup(v.doc, path).(string)
	return s, ok
}

// integer returns the integer at path when it is present and well typed.
func (v *validation) integer(path string) (int64, bool) {
	if v.bad[path] {
		return 0, false
	}
	return asInt(lookup(v.doc, path))
}

// lookup returns the value at a dotted path of a decoded document, or nil.
func lookup(doc map[string]any, path string) any {
	var cur any = doc
	for part := range strings.SplitSeq(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[part]
	}
	return cur
}

func splitPath(path string) (parent, name string) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

func asInt(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

// typeProblem returns "" when value has kind k, else what is wrong: the
// whole value, or the index of the first wrong array item.
func typeProblem(k kind, value any) string {
	const wrongType = "wrong type"
	var good bool
	switch k {
	case kindString:
		good = isType[string](value)
	case kindBool:
		good = isType[bool](value)
	case kindInt:
		_, good = asInt(value)
	case kindObject:
		good = isType[map[string]any](value)
	default:
		items, isArray := value.([]any)
		if !isArray {
			return wrongType
		}
		for i, item := range items {
			if !itemHasKind(k, item) {
				return fmt.Sprintf("item %d is not", i)
			}
		}
		return ""
	}
	if !good {
		return wrongType
	}
	return ""
}

func itemHasKind(k kind, item any) bool {
	switch k {
	case kindStrings:
		return isType[string](item)
	case kindObjects:
		return isType[map[string]any](item)
	case kindNameValues:
		obj, _ := item.(map[string]any)
		name, _ := obj["name"].(string)
		return name != ""
	}
	return false
}

func isType[T any](v any) bool {
	_, is := v.(T)
	return is
}

func nullMessage(path string) string {
	if path == "metadata.name" {
		return "Cluster name must not be null" // documented message
	}
	return path + " must not be null"
}
