package specform

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Errors maps a form field name to what is wrong with what was typed in it.
type Errors map[string]string

// Encode is the form showing spec: one value per input of Layout, rows for
// the lists. Decode(Encode(spec), spec) is spec again.
func Encode(spec cloudapi.ClusterSpec) url.Values {
	f := url.Values{}
	text(f, "version", spec.Version)
	text(f, "desired_state", string(spec.DesiredState))
	text(f, "aws_instance_role", spec.AWSInstanceRole)
	text(f, "aws_key_pair", spec.AWSKeyPair)
	nameValues(f, "aws_tags", spec.AWSTags)
	f.Set("encrypt_volumes", triText(spec.EncryptVolumes))
	nameValues(f, "common_runtime_properties", spec.CommonRuntimeProperties)
	if m := spec.Master; m != nil {
		f.Set("master_replicas", numberText(m.Replicas))
		text(f, "master_instance_type", m.InstanceType)
		nameValues(f, "master_coordinator_runtime_properties", m.CoordinatorRuntimeProperties)
		nameValues(f, "master_overlord_runtime_properties", m.OverlordRuntimeProperties)
	}
	if q := spec.Query; q != nil {
		f.Set("query_replicas", numberText(q.Replicas))
		text(f, "query_instance_type", q.InstanceType)
		nameValues(f, "query_broker_runtime_properties", q.BrokerRuntimeProperties)
		nameValues(f, "query_router_runtime_properties", q.RouterRuntimeProperties)
		text(f, "query_pivot_configuration", q.PivotConfiguration)
	}
	if d := spec.Data; d != nil {
		nameValues(f, "data_historical_runtime_properties", d.HistoricalRuntimeProperties)
		nameValues(f, "data_middle_manager_runtime_properties", d.MiddleManagerRuntimeProperties)
		for i, t := range []*cloudapi.DataTier{d.Tier1, d.Tier2, d.Tier3} {
			if t == nil {
				continue
			}
			p := fmt.Sprintf("data_tier%d", i+1)
			f.Set(p+"_replicas", numberText(t.Replicas))
			text(f, p+"_instance_type", t.InstanceType)
			nameValues(f, p+"_historical_runtime_properties", t.HistoricalRuntimeProperties)
			nameValues(f, p+"_middle_manager_runtime_properties", t.MiddleManagerRuntimeProperties)
		}
	}
	if m := spec.MetadataStore; m != nil {
		text(f, "metadata_store_instance_type", m.InstanceType)
		f.Set("metadata_store_disk_size", numberText(m.DiskSize))
		f.Set("metadata_store_backup_retention", numberText(m.BackupRetention))
		f.Set("metadata_store_monitoring", triText(m.Monitoring))
		f.Set("metadata_store_encrypt", triText(m.Encrypt))
	}
	if p := spec.Pivot; p != nil {
		text(f, "pivot_access_mode", string(p.AccessMode))
		text(f, "pivot_url", p.URL)
		text(f, "pivot_role_authority", string(p.RoleAuthority))
		text(f, "pivot_options", p.Options)
	}
	if ds := spec.DeepStorage; ds != nil {
		text(f, "deep_storage_path", ds.Path)
		f.Set("deep_storage_encrypt", triText(ds.Encrypt))
	}
	if len(spec.DruidExtensions) > 0 {
		f.Set("druid_extensions", strings.Join(spec.DruidExtensions, "\n"))
	}
	for _, e := range spec.CustomDruidExtensions {
		f.Add("custom_druid_extensions_name", e.Name)
		f.Add("custom_druid_extensions_path", e.Path)
	}
	if len(spec.FeatureFlags) > 0 {
		f.Set("feature_flags", strings.Join(spec.FeatureFlags, "\n"))
	}
	for _, cf := range spec.CustomFiles {
		f.Add("custom_files_path", cf.Path)
		f.Add("custom_files_type", string(cf.Type))
		f.Add("custom_files_executable", triText(cf.Executable))
		f.Add("custom_files_unpack", triText(cf.Unpack))
	}
	return f
}

func text(f url.Values, name, v string) {
	if v != "" {
		f.Set(name, v)
	}
}

func nameValues(f url.Values, name string, items []cloudapi.NameValue) {
	for _, item := range items {
		f.Add(name+"_name", item.Name)
		f.Add(name+"_value", DisplayValue(item.Value))
	}
}

func numberText(n *int32) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(int(*n))
}

func triText(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

// Decode reads the form f over base, the spec the form was built from:
// every input of Layout replaces its part of base, and what the form does
// not show (members the portal does not know, the extra members of list
// items, the exact JSON of unchanged values) is kept from base.
//
// An optional section (a data tier, the metadata store, Pivot access)
// exists when base has it or one of its inputs has a value, unless its
// Remove box is ticked. A list emptied in the form becomes [] when base
// had it, and stays absent otherwise. Text is kept as typed, except that
// line breaks become "\n" and the lines of Lines inputs are trimmed.
//
// Input that cannot be read (a number that is not one, an unknown yes/no)
// is an error under its field; that part keeps base's value.
func Decode(f url.Values, base cloudapi.ClusterSpec) (cloudapi.ClusterSpec, Errors) {
	spec, err := Clone(base)
	if err != nil {
		// base came from JSON; marshalling it back does not fail.
		return base, Errors{"spec_json": "The specification could not be copied: " + err.Error()}
	}
	d := &decoder{f: validUTF8(f), errs: Errors{}}
	spec.Version = d.text("version")
	spec.DesiredState = cloudapi.DesiredState(d.text("desired_state"))
	spec.AWSInstanceRole = d.text("aws_instance_role")
	spec.AWSKeyPair = d.text("aws_key_pair")
	spec.AWSTags = d.nameValues("aws_tags", spec.AWSTags)
	spec.EncryptVolumes = d.tri("encrypt_volumes", spec.EncryptVolumes)
	spec.CommonRuntimeProperties = d.nameValues("common_runtime_properties", spec.CommonRuntimeProperties)

	spec.Master = section(d, spec.Master, "", "master_", func(m *cloudapi.MasterConfig) {
		m.Replicas = d.number("master_replicas", m.Replicas)
		m.InstanceType = d.text("master_instance_type")
		m.CoordinatorRuntimeProperties = d.nameValues("master_coordinator_runtime_properties", m.CoordinatorRuntimeProperties)
		m.OverlordRuntimeProperties = d.nameValues("master_overlord_runtime_properties", m.OverlordRuntimeProperties)
	})
	spec.Query = section(d, spec.Query, "", "query_", func(q *cloudapi.QueryConfig) {
		q.Replicas = d.number("query_replicas", q.Replicas)
		q.InstanceType = d.text("query_instance_type")
		q.BrokerRuntimeProperties = d.nameValues("query_broker_runtime_properties", q.BrokerRuntimeProperties)
		q.RouterRuntimeProperties = d.nameValues("query_router_runtime_properties", q.RouterRuntimeProperties)
		q.PivotConfiguration = d.textArea("query_pivot_configuration")
	})
	spec.Data = section(d, spec.Data, "", "data_", func(dc *cloudapi.DataConfig) {
		dc.HistoricalRuntimeProperties = d.nameValues("data_historical_runtime_properties", dc.HistoricalRuntimeProperties)
		dc.MiddleManagerRuntimeProperties = d.nameValues("data_middle_manager_runtime_properties", dc.MiddleManagerRuntimeProperties)
		tiers := []**cloudapi.DataTier{&dc.Tier1, &dc.Tier2, &dc.Tier3}
		for i, t := range tiers {
			p := fmt.Sprintf("data_tier%d", i+1)
			remove := ""
			if i > 0 {
				remove = p + "_remove"
			}
			*t = section(d, *t, remove, p+"_", func(dt *cloudapi.DataTier) {
				dt.Replicas = d.number(p+"_replicas", dt.Replicas)
				dt.InstanceType = d.text(p + "_instance_type")
				dt.HistoricalRuntimeProperties = d.nameValues(p+"_historical_runtime_properties", dt.HistoricalRuntimeProperties)
				dt.MiddleManagerRuntimeProperties = d.nameValues(p+"_middle_manager_runtime_properties", dt.MiddleManagerRuntimeProperties)
			})
		}
	})
	spec.MetadataStore = section(d, spec.MetadataStore, "metadata_store_remove", "metadata_store_", func(m *cloudapi.MetadataStore) {
		m.InstanceType = d.text("metadata_store_instance_type")
		m.DiskSize = d.number("metadata_store_disk_size", m.DiskSize)
		m.BackupRetention = d.number("metadata_store_backup_retention", m.BackupRetention)
		m.Monitoring = d.tri("metadata_store_monitoring", m.Monitoring)
		m.Encrypt = d.tri("metadata_store_encrypt", m.Encrypt)
	})
	spec.Pivot = section(d, spec.Pivot, "pivot_remove", "pivot_", func(p *cloudapi.PivotAccess) {
		p.AccessMode = cloudapi.AccessMode(d.text("pivot_access_mode"))
		p.URL = d.text("pivot_url")
		p.RoleAuthority = cloudapi.RoleAuthority(d.text("pivot_role_authority"))
		p.Options = d.textArea("pivot_options")
	})
	spec.DeepStorage = section(d, spec.DeepStorage, "", "deep_storage_", func(ds *cloudapi.DeepStorage) {
		ds.Path = d.text("deep_storage_path")
		ds.Encrypt = d.tri("deep_storage_encrypt", ds.Encrypt)
	})
	spec.DruidExtensions = d.lines("druid_extensions", spec.DruidExtensions)
	spec.CustomDruidExtensions = d.extensions(spec.CustomDruidExtensions)
	spec.FeatureFlags = d.lines("feature_flags", spec.FeatureFlags)
	spec.CustomFiles = d.files(spec.CustomFiles)
	if len(d.errs) == 0 {
		return spec, nil
	}
	return spec, d.errs
}

// Clone is a deep copy of spec (through its JSON, which keeps every
// member).
func Clone(spec cloudapi.ClusterSpec) (cloudapi.ClusterSpec, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return cloudapi.ClusterSpec{}, err
	}
	var out cloudapi.ClusterSpec
	if err := json.Unmarshal(raw, &out); err != nil {
		return cloudapi.ClusterSpec{}, err
	}
	return out, nil
}

type decoder struct {
	f    url.Values
	errs Errors
}

func (d *decoder) fail(name, format string, args ...any) {
	if _, ok := d.errs[name]; !ok {
		d.errs[name] = label(name) + " " + fmt.Sprintf(format, args...)
	}
}

func (d *decoder) text(name string) string { return newlines(d.f.Get(name)) }

// textArea is a textarea's text: browsers send its line breaks as CRLF.
func (d *decoder) textArea(name string) string { return newlines(d.f.Get(name)) }

// validUTF8 is f with every invalid byte sequence replaced by U+FFFD, as
// JSON would store it: the spec's text then matches base's (which went
// through JSON) and reads back the same.
func validUTF8(f url.Values) url.Values {
	out := make(url.Values, len(f))
	for name, values := range f {
		out[name] = make([]string, len(values))
		for i, v := range values {
			out[name][i] = strings.ToValidUTF8(v, "\uFFFD")
		}
	}
	return out
}

func newlines(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

func (d *decoder) number(name string, current *int32) *int32 {
	s := strings.TrimSpace(d.f.Get(name))
	if s == "" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			d.fail(name, "is too large: %q", s)
		} else {
			d.fail(name, "must be a whole number, not %q", s)
		}
		return current
	}
	v := int32(n)
	return &v
}

func (d *decoder) tri(name string, current *bool) *bool {
	return d.triText(name, d.f.Get(name), current)
}

func (d *decoder) triText(name, s string, current *bool) *bool {
	switch s {
	case "":
		return nil
	case "true", "false":
		v := s == "true"
		return &v
	}
	d.fail(name, "must be yes, no or not set, not %q", s)
	return current
}

// row returns the i-th value of name, "" past its end.
func (d *decoder) row(name string, i int) string {
	if vs := d.f[name]; i < len(vs) {
		return vs[i]
	}
	return ""
}

func (d *decoder) rows(columns ...string) int {
	n := 0
	for _, c := range columns {
		n = max(n, len(d.f[c]))
	}
	return n
}

// nameValues reads rows of name and value; an item keeps the extra
// members and, when its text is unchanged, the exact value of the item of
// current with the same name. Rows with neither are skipped.
func (d *decoder) nameValues(name string, current []cloudapi.NameValue) []cloudapi.NameValue {
	names, values := name+"_name", name+"_value"
	used := make([]bool, len(current))
	var out []cloudapi.NameValue
	for i := range d.rows(names, values) {
		n, v := d.row(names, i), d.row(values, i)
		if n == "" && v == "" {
			continue
		}
		item := cloudapi.NameValue{Name: n}
		for j, c := range current {
			if !used[j] && c.Name == n {
				used[j], item = true, c
				break
			}
		}
		item.Value = ParseValue(v, item.Value)
		if n == "" && DisplayValue(item.Value) == "" {
			continue // a blank row, though its value was typed as ""
		}
		out = append(out, item)
	}
	return emptied(out, current)
}

// emptied keeps the difference between an absent list and an empty one:
// a list the form emptied is [] when it existed.
func emptied[T any](out, current []T) []T {
	if out == nil && current != nil {
		return []T{}
	}
	return out
}

func (d *decoder) lines(name string, current []string) []string {
	var out []string
	for line := range strings.SplitSeq(d.f.Get(name), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return emptied(out, current)
}

func (d *decoder) extensions(current []cloudapi.CustomDruidExtension) []cloudapi.CustomDruidExtension {
	const names, paths = "custom_druid_extensions_name", "custom_druid_extensions_path"
	var out []cloudapi.CustomDruidExtension
	for i := range d.rows(names, paths) {
		n, p := d.row(names, i), d.row(paths, i)
		if n == "" && p == "" {
			continue
		}
		var e cloudapi.CustomDruidExtension
		if len(out) < len(current) {
			e = current[len(out)] // keeps its extra members
		}
		e.Name, e.Path = n, p
		out = append(out, e)
	}
	return emptied(out, current)
}

func (d *decoder) files(current []cloudapi.CustomFile) []cloudapi.CustomFile {
	const paths, types, executables, unpacks = "custom_files_path", "custom_files_type", "custom_files_executable", "custom_files_unpack"
	var out []cloudapi.CustomFile
	for i := range d.rows(paths, types, executables, unpacks) {
		p, t, x, u := d.row(paths, i), d.row(types, i), d.row(executables, i), d.row(unpacks, i)
		if p == "" && t == "" && x == "" && u == "" {
			continue
		}
		var cf cloudapi.CustomFile
		if len(out) < len(current) {
			cf = current[len(out)]
		}
		cf.Path, cf.Type = p, cloudapi.CustomFileType(t)
		cf.Executable = d.triText("custom_files", x, cf.Executable)
		cf.Unpack = d.triText("custom_files", u, cf.Unpack)
		out = append(out, cf)
	}
	return emptied(out, current)
}

// section decodes an optional part of the spec: nil when removeBox is
// ticked, or when current is nil and no input named with prefix has a
// value; otherwise current (or a new one) filled in.
func section[T any](d *decoder, current *T, removeBox, prefix string, fill func(*T)) *T {
	if removeBox != "" && d.f.Get(removeBox) != "" {
		return nil
	}
	if current == nil && !d.anyValue(prefix) {
		return nil
	}
	var s T
	if current != nil {
		s = *current
	}
	fill(&s)
	return &s
}

// anyValue reports whether an input named with prefix, other than a
// Remove box, has a value.
func (d *decoder) anyValue(prefix string) bool {
	for name, vs := range d.f {
		if !strings.HasPrefix(name, prefix) || strings.HasSuffix(name, "_remove") {
			continue
		}
		for _, v := range vs {
			if strings.TrimSpace(v) != "" {
				return true
			}
		}
	}
	return false
}
