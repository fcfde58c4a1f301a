package approvals

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Violation is one problem with a proposal. Target is the API path of the
// offending field (as in the API's details[].target), or "" for a problem
// of the whole request. Code is NullValue (missing) or MalformedValue
// (wrong), the API's detail codes.
type Violation struct {
	Target  string
	Code    cloudapi.ErrorCode
	Message string
	// NeedsHardUpdate marks the API's refusal of a change it can apply
	// only as a hard update (force=true, every affected server restarted
	// at once): the requester may choose one (Payload.HardUpdate) instead
	// of changing the proposal. Target is then the field whose change
	// causes the restarts (see DryRun).
	NeedsHardUpdate bool
}

// HardUpdateNeeded returns the violation saying that the proposal needs a
// hard update, if there is one.
func (vs Violations) HardUpdateNeeded() (Violation, bool) {
	for _, v := range vs {
		if v.NeedsHardUpdate {
			return v, true
		}
	}
	return Violation{}, false
}

// Violations is the list of problems of one proposal.
type Violations []Violation

// Placed is a Violations list arranged for a form.
type Placed struct {
	// Fields holds the problems by form field name (see FieldForTarget).
	Fields map[string][]Violation
	// Top holds the problems no field shows; the form lists them first.
	Top []Violation
}

// Place arranges vs by form field; problems whose target has no field go
// to Top, in order.
func (vs Violations) Place() Placed {
	p := Placed{Fields: map[string][]Violation{}}
	for _, v := range vs {
		if field, ok := FieldForTarget(v.Target); ok {
			p.Fields[field] = append(p.Fields[field], v)
		} else {
			p.Top = append(p.Top, v)
		}
	}
	return p
}

// ValidationError carries the violations that stopped a use case; it
// matches ErrInvalid.
type ValidationError struct {
	Violations Violations
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		if v.Target == "" {
			parts[i] = v.Message
		} else {
			parts[i] = v.Target + ": " + v.Message
		}
	}
	return ErrInvalid.Error() + ": " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// The local rules mirror the API's documented and inferred rules
// (docs/cloud-manager-api/BEHAVIOUR.md §9) with the API's messages where
// they are documented. They are a fast first check; the API's dry run has
// the last word (see Check).
var (
	s3Path          = regexp.MustCompile(`^s3://[^/]+(/.*)?$`)
	ec2InstanceType = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	rdsInstanceType = regexp.MustCompile(`^db\.[a-z][a-z0-9-]*\.[a-z0-9]+$`)
)

// ValidateCreate checks a new cluster's name and spec with the local
// rules (see ValidateSpec).
func ValidateCreate(name string, spec cloudapi.ClusterSpec) Violations {
	var vs Violations
	switch {
	case strings.TrimSpace(name) == "":
		vs = append(vs, Violation{Target: "metadata.name", Code: cloudapi.CodeNullValue, Message: "Cluster name must not be empty"})
	case len(name) > 100:
		vs = append(vs, Violation{Target: "metadata.name", Code: cloudapi.CodeMalformedValue, Message: "Cluster name must be at most 100 characters"})
	}
	return append(vs, ValidateSpec(spec)...)
}

// MaxSpecBytes is the largest spec the portal files, as compact JSON: 256
// KiB, far above any real cluster's (a few KiB) yet small enough that a
// request's revisions, diff and approver page stay cheap to store and show.
// A spec over it gets one violation at target "spec" and no other check.
const MaxSpecBytes = 256 << 10

// ValidateSpec checks a full proposed spec with the local rules: its size
// (at most MaxSpecBytes of JSON, else only that is said), required
// sections (version, AWS instance role, master, query, data with tier 1,
// deep storage with its path), formats (s3:// path, EC2 and RDS instance
// types), ranges (replicas ≥ 1, master replicas 1 or ≥ 3, disk ≥ 20 GiB,
// backup retention 0–35 days), enumerations (desired state, Pivot access
// mode and role authority), Pivot's dependent fields, and named lists
// (every item named, no name twice). Targets are the API's paths.
func ValidateSpec(spec cloudapi.ClusterSpec) Violations {
	if v, ok := specTooLarge(spec); ok {
		return Violations{v}
	}
	var vs Violations
	null := func(target, message string) {
		vs = append(vs, Violation{Target: target, Code: cloudapi.CodeNullValue, Message: message})
	}
	bad := func(target, message string) {
		vs = append(vs, Violation{Target: target, Code: cloudapi.CodeMalformedValue, Message: message})
	}

	if strings.TrimSpace(spec.Version) == "" {
		null("spec.version", "Imply version is required")
	}
	if strings.TrimSpace(spec.AWSInstanceRole) == "" {
		null("spec.awsInstanceRole", "AWS instance role is required")
	}
	if s := spec.DesiredState; s != "" && s != cloudapi.DesiredStarted && s != cloudapi.DesiredStopped {
		bad("spec.desiredState", "Desired state must be STARTED or STOPPED")
	}
	namedList(&vs, "spec.awsTags", spec.AWSTags)
	namedList(&vs, "spec.commonRuntimeProperties", spec.CommonRuntimeProperties)

	type tier struct {
		path         string
		replicas     *int32
		instanceType string
	}
	var tiers []tier
	if m := spec.Master; m == nil {
		null("spec.master", "Master servers are required")
	} else {
		tiers = append(tiers, tier{"spec.master", m.Replicas, m.InstanceType})
		if m.Replicas != nil && *m.Replicas == 2 {
			bad("spec.master.replicas", "Master replicas must be 1, or 3 or more for high availability")
		}
		namedList(&vs, "spec.master.coordinatorRuntimeProperties", m.CoordinatorRuntimeProperties)
		namedList(&vs, "spec.master.overlordRuntimeProperties", m.OverlordRuntimeProperties)
	}
	if q := spec.Query; q == nil {
		null("spec.query", "Query servers are required")
	} else {
		tiers = append(tiers, tier{"spec.query", q.Replicas, q.InstanceType})
		namedList(&vs, "spec.query.brokerRuntimeProperties", q.BrokerRuntimeProperties)
		namedList(&vs, "spec.query.routerRuntimeProperties", q.RouterRuntimeProperties)
	}
	if d := spec.Data; d == nil {
		null("spec.data", "Data servers are required")
	} else {
		namedList(&vs, "spec.data.historicalRuntimeProperties", d.HistoricalRuntimeProperties)
		namedList(&vs, "spec.data.middleManagerRuntimeProperties", d.MiddleManagerRuntimeProperties)
		if d.Tier1 == nil {
			null("spec.data.tier1", "Data tier 1 is required")
		}
		for i, t := range []*cloudapi.DataTier{d.Tier1, d.Tier2, d.Tier3} {
			if t == nil {
				continue
			}
			path := fmt.Sprintf("spec.data.tier%d", i+1)
			tiers = append(tiers, tier{path, t.Replicas, t.InstanceType})
			namedList(&vs, path+".historicalRuntimeProperties", t.HistoricalRuntimeProperties)
			namedList(&vs, path+".middleManagerRuntimeProperties", t.MiddleManagerRuntimeProperties)
		}
	}
	for _, t := range tiers {
		if t.replicas != nil && *t.replicas < 1 {
			bad(t.path+".replicas", "Replicas must be at least 1")
		}
		if t.instanceType != "" && !ec2InstanceType.MatchString(t.instanceType) {
			bad(t.path+".instanceType", fmt.Sprintf("Instance type %q is not an EC2 instance type such as t2.small", t.instanceType))
		}
	}

	if ms := spec.MetadataStore; ms != nil {
		if ms.InstanceType != "" && !rdsInstanceType.MatchString(ms.InstanceType) {
			bad("spec.metadataStore.instanceType", fmt.Sprintf("Instance type %q is not an RDS instance class such as db.t3.small", ms.InstanceType))
		}
		if ms.DiskSize != nil && *ms.DiskSize < 20 {
			bad("spec.metadataStore.diskSize", "Disk size must be at least 20 GiB")
		}
		if ms.BackupRetention != nil && (*ms.BackupRetention < 0 || *ms.BackupRetention > 35) {
			bad("spec.metadataStore.backupRetention", "Backup retention must be between 0 and 35 days")
		}
	}
	if p := spec.Pivot; p != nil {
		validatePivot(&vs, p)
	}
	switch ds := spec.DeepStorage; {
	case ds == nil:
		null("spec.deepStorage", "Deep storage is required")
	case strings.TrimSpace(ds.Path) == "":
		null("spec.deepStorage.path", "Deep storage path is required")
	case !s3Path.MatchString(ds.Path):
		bad("spec.deepStorage.path", "Path is not a valid s3 path") // the API's documented message
	}
	return vs
}

// specTooLarge says when spec's JSON is over MaxSpecBytes.
func specTooLarge(spec cloudapi.ClusterSpec) (Violation, bool) {
	raw, err := json.Marshal(spec)
	if err != nil || len(raw) <= MaxSpecBytes {
		return Violation{}, false
	}
	return Violation{Target: "spec", Code: cloudapi.CodeMalformedValue, Message: fmt.Sprintf(
		"The specification is %d KiB of JSON; the portal accepts at most %d KiB", (len(raw)+1023)>>10, MaxSpecBytes>>10)}, true
}

// validatePivot applies the documented PivotAccess rules.
func validatePivot(vs *Violations, p *cloudapi.PivotAccess) {
	add := func(code cloudapi.ErrorCode, target, message string) {
		*vs = append(*vs, Violation{Target: target, Code: code, Message: message})
	}
	switch p.AccessMode {
	case "":
		add(cloudapi.CodeNullValue, "spec.pivot.accessMode", "Pivot access mode is required")
		return
	case cloudapi.AccessProxied, cloudapi.AccessNative, cloudapi.AccessOIDC, cloudapi.AccessLDAP:
	default:
		add(cloudapi.CodeMalformedValue, "spec.pivot.accessMode", "Access mode must be PROXIED, NATIVE, OIDC or LDAP")
		return
	}
	external := p.AccessMode == cloudapi.AccessOIDC || p.AccessMode == cloudapi.AccessLDAP
	if p.URL != "" && p.AccessMode == cloudapi.AccessProxied {
		add(cloudapi.CodeMalformedValue, "spec.pivot.url", "URL is allowed only with access mode NATIVE, OIDC or LDAP")
	}
	switch {
	case external && p.RoleAuthority == "":
		add(cloudapi.CodeNullValue, "spec.pivot.roleAuthority", "Role authority is required with access mode "+string(p.AccessMode))
	case !external && p.RoleAuthority != "":
		add(cloudapi.CodeMalformedValue, "spec.pivot.roleAuthority", "Role authority is allowed only with access mode OIDC or LDAP")
	case p.RoleAuthority != "" && p.RoleAuthority != cloudapi.RoleAuthorityNative && p.RoleAuthority != cloudapi.RoleAuthorityExternal:
		add(cloudapi.CodeMalformedValue, "spec.pivot.roleAuthority", "Role authority must be NATIVE or EXTERNAL")
	}
	switch {
	case external && p.Options == "":
		add(cloudapi.CodeNullValue, "spec.pivot.options", "Options are required with access mode "+string(p.AccessMode))
	case !external && p.Options != "":
		add(cloudapi.CodeMalformedValue, "spec.pivot.options", "Options are allowed only with access mode OIDC or LDAP")
	}
}

// namedList requires every item of a tag or property list to have a name,
// and no name twice.
func namedList(vs *Violations, target string, items []cloudapi.NameValue) {
	seen := map[string]bool{}
	for i, item := range items {
		name := strings.TrimSpace(item.Name)
		switch {
		case name == "":
			*vs = append(*vs, Violation{Target: target, Code: cloudapi.CodeMalformedValue, Message: fmt.Sprintf("Item %d has no name", i+1)})
		case seen[name]:
			*vs = append(*vs, Violation{Target: target, Code: cloudapi.CodeMalformedValue, Message: fmt.Sprintf("%q appears more than once", name)})
		}
		seen[name] = true
	}
}
