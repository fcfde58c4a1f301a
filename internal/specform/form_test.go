package specform_test

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/specform"
)

// fullSpec uses every part of the spec, members the portal does not know
// at several levels, and values of every JSON type.
const fullSpec = `{
  "version": "2024.01", "desiredState": "STARTED", "awsInstanceRole": "role", "awsKeyPair": "ops",
  "awsTags": [{"name": "team", "value": "data"}, {"name": "cost", "value": 12}, {"name": "none"},
              {"name": "quoted", "value": "\"x\""}, {"name": "multi", "value": "a\nb"}, {"name": "nil", "value": null, "owner": "me"}],
  "encryptVolumes": false,
  "commonRuntimeProperties": [{"name": "druid.server.http.numThreads", "value": "60"}, {"name": "obj", "value": {"a": [1, 2]}}],
  "master": {"replicas": 3, "instanceType": "m5.large", "coordinatorRuntimeProperties": [], "overlordRuntimeProperties": [{"name": "x", "value": true}], "zone": "a"},
  "query": {"replicas": 2, "instanceType": "c5.2xlarge", "pivotConfiguration": "a: 1\nb: 2"},
  "data": {"historicalRuntimeProperties": [], "tier1": {"replicas": 3, "instanceType": "i3.2xlarge"},
           "tier3": {"replicas": 1, "instanceType": "d3.xlarge", "middleManagerRuntimeProperties": [{"name": "m", "value": "1"}]}},
  "metadataStore": {"instanceType": "db.r5.large", "diskSize": 100, "backupRetention": 0, "monitoring": true},
  "pivot": {"accessMode": "OIDC", "roleAuthority": "EXTERNAL", "options": "issuer: x"},
  "deepStorage": {"path": "s3://bucket/segments", "encrypt": true},
  "druidExtensions": ["druid-datasketches", "druid-kafka-indexing-service"],
  "customDruidExtensions": [{"name": "mine", "path": "s3://bucket/ext.tar.gz", "checksum": "abc"}],
  "featureFlags": [],
  "customFiles": [{"path": "s3://bucket/f", "type": "USER", "executable": true}],
  "futureMember": {"nested": [1, "two"]}
}`

func mustSpec(t testing.TB, doc string) cloudapi.ClusterSpec {
	t.Helper()
	var spec cloudapi.ClusterSpec
	require.NoError(t, json.Unmarshal([]byte(doc), &spec))
	return spec
}

func specJSON(t testing.TB, spec cloudapi.ClusterSpec) string {
	t.Helper()
	raw, err := json.Marshal(spec)
	require.NoError(t, err)
	return string(raw)
}

func TestFormRoundTripKeepsEverything(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"full":  fullSpec,
		"empty": `{}`,
		"demo":  `{"version": "2023.10", "awsInstanceRole": "r", "master": {"replicas": 1, "instanceType": "t3.large"}, "data": {"tier1": {}}, "pivot": {"accessMode": "PROXIED"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			spec := mustSpec(t, doc)
			back, errs := specform.Decode(specform.Encode(spec), spec)
			require.Empty(t, errs)
			require.JSONEq(t, specJSON(t, spec), specJSON(t, back))
			// The JSON editor too.
			fromJSON, err := specform.DecodeJSON(specform.EncodeJSON(spec))
			require.NoError(t, err)
			require.JSONEq(t, specJSON(t, spec), specJSON(t, fromJSON))
		})
	}
}

func TestFormShowsValuesPlainly(t *testing.T) {
	t.Parallel()
	f := specform.Encode(mustSpec(t, fullSpec))
	require.Equal(t, []string{"team", "cost", "none", "quoted", "multi", "nil"}, f["aws_tags_name"])
	require.Equal(t, []string{"data", "12", "", `"\"x\""`, `"a\nb"`, ""}, f["aws_tags_value"], "a null value reads as absent")
	require.Equal(t, []string{"60", `{"a":[1,2]}`}, f["common_runtime_properties_value"])
	require.Equal(t, "false", f.Get("encrypt_volumes"))
	require.Equal(t, "0", f.Get("metadata_store_backup_retention"))
	require.Equal(t, "", f.Get("metadata_store_encrypt"), "not set")
	require.Equal(t, "druid-datasketches\ndruid-kafka-indexing-service", f.Get("druid_extensions"))
	require.Empty(t, f.Get("data_tier2_replicas"))
}

func TestDecodeChangesOnlyWhatWasTyped(t *testing.T) {
	t.Parallel()
	base := mustSpec(t, fullSpec)
	f := specform.Encode(base)
	f.Set("deep_storage_path", "s3://other/place")
	f.Set("data_tier1_replicas", " 5 ")
	f["common_runtime_properties_value"][0] = "80" // was the string "60": stays a string
	f.Set("data_tier3_remove", "on")
	f.Set("pivot_options", "issuer: y\r\nclientId: z") // a textarea's CRLF
	spec, errs := specform.Decode(f, base)
	require.Empty(t, errs)

	want := mustSpec(t, fullSpec)
	want.DeepStorage.Path = "s3://other/place"
	*want.Data.Tier1.Replicas = 5
	want.CommonRuntimeProperties[0].Value = json.RawMessage(`"80"`)
	want.Data.Tier3 = nil
	want.Pivot.Options = "issuer: y\nclientId: z"
	require.JSONEq(t, specJSON(t, want), specJSON(t, spec))
	require.Contains(t, specJSON(t, spec), `"futureMember":{"nested":[1,"two"]}`, "unknown members survive")
	require.Contains(t, specJSON(t, spec), `"zone":"a"`)
	require.Contains(t, specJSON(t, spec), `"checksum":"abc"`)
	require.Contains(t, specJSON(t, spec), `"owner":"me"`)
}

func TestDecodeInfersValueTypes(t *testing.T) {
	t.Parallel()
	f := url.Values{
		"aws_tags_name":  {"n", "b", "o", "a", "s", "q", "nul", "blank", "", ""},
		"aws_tags_value": {"60", "true", `{"x": 1}`, "[1, 2]", "hello world", `"60"`, "null", "", "", ""},
	}
	spec, errs := specform.Decode(f, cloudapi.ClusterSpec{})
	require.Empty(t, errs)
	got := map[string]string{}
	for _, tag := range spec.AWSTags {
		got[tag.Name] = string(tag.Value)
	}
	require.Equal(t, map[string]string{
		"n": "60", "b": "true", "o": `{"x":1}`, "a": "[1,2]", "s": `"hello world"`, "q": `"60"`, "nul": `"null"`, "blank": "",
	}, got)
	require.Len(t, spec.AWSTags, 8, "rows with neither name nor value are skipped")
}

func TestDecodeSectionsAndLists(t *testing.T) {
	t.Parallel()
	t.Run("empty form makes an empty spec", func(t *testing.T) {
		spec, errs := specform.Decode(url.Values{}, cloudapi.ClusterSpec{})
		require.Empty(t, errs)
		require.JSONEq(t, `{}`, specJSON(t, spec))
	})
	t.Run("a value creates its section", func(t *testing.T) {
		spec, errs := specform.Decode(url.Values{"data_tier2_instance_type": {"m5.large"}, "pivot_remove": {"on"}, "pivot_access_mode": {"NATIVE"}}, cloudapi.ClusterSpec{})
		require.Empty(t, errs)
		require.JSONEq(t, `{"data": {"tier2": {"instanceType": "m5.large"}}}`, specJSON(t, spec), "the remove box wins")
	})
	t.Run("emptied lists stay lists", func(t *testing.T) {
		base := mustSpec(t, `{"awsTags": [{"name": "a", "value": "b"}], "druidExtensions": ["x"]}`)
		spec, errs := specform.Decode(url.Values{}, base)
		require.Empty(t, errs)
		require.JSONEq(t, `{"awsTags": [], "druidExtensions": []}`, specJSON(t, spec))
	})
}

func TestDecodeParseErrorsNameTheField(t *testing.T) {
	t.Parallel()
	base := mustSpec(t, fullSpec)
	f := specform.Encode(base)
	f.Set("master_replicas", "abc")
	f.Set("metadata_store_disk_size", "99999999999")
	f.Set("encrypt_volumes", "maybe")
	spec, errs := specform.Decode(f, base)
	require.Equal(t, specform.Errors{
		"master_replicas":          `Master replicas must be a whole number, not "abc"`,
		"metadata_store_disk_size": `Metadata store disk size (GiB) is too large: "99999999999"`,
		"encrypt_volumes":          `Encrypt volumes must be yes, no or not set, not "maybe"`,
	}, errs)
	require.EqualValues(t, 3, *spec.Master.Replicas, "a field that cannot be read keeps its value")
}

func TestDecodeJSONSaysWhere(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ text, want string }{
		{"{\n  \"version\": \"2024.01\",\n  \"master\": {\"replicas\": 3,}\n}", "Line 3, column 28: invalid character '}' looking for beginning of object key string"},
		{"{\n  \"version\": \"2024.01\"", "Line 2, column 22: the JSON ends too early (a missing } or ]?)"},
		{`{"master": {"replicas": "three"}}`, "master.replicas must be a whole number, not a JSON string"},
		{`[1]`, "Line 1, column 1: the specification must be a JSON object, {…}"},
		{`{} {}`, "Line 1, column 3: there is more after the end of the JSON object"},
		{"  ", "The specification is empty"},
	} {
		_, err := specform.DecodeJSON(tc.text)
		require.Error(t, err)
		require.Contains(t, err.Error(), tc.want, tc.text)
	}
}

func TestEveryInputHasAFormField(t *testing.T) {
	t.Parallel()
	fields := map[string]bool{}
	for _, f := range approvals.FormFields() {
		fields[f.Name] = true
	}
	shown := map[string]bool{}
	for _, s := range specform.Layout() {
		if s.Name != "" {
			require.True(t, fields[s.Name], "section %s", s.Name)
			shown[s.Name] = true
		}
		for _, in := range s.Inputs {
			if in.Kind == specform.Remove {
				require.True(t, strings.HasSuffix(in.Name, "_remove"))
				continue
			}
			require.True(t, fields[in.Name], "input %s is not an approvals form field", in.Name)
			require.NotEqual(t, in.Name, in.Label, "input %s has a label", in.Name)
			shown[in.Name] = true
		}
	}
	for name := range fields {
		if name != "name" && name != "spec_json" {
			require.True(t, shown[name], "form field %s has no input or fieldset", name)
		}
	}
}

func TestBuiltinPresetsPassTheLocalRules(t *testing.T) {
	t.Parallel()
	presets, err := specform.LoadPresets("")
	require.NoError(t, err)
	require.Len(t, presets, 2)
	for _, p := range presets {
		require.Empty(t, approvals.ValidateCreate("x", p.Spec), p.Name)
	}
	_, ok := specform.PresetByName(presets, "highly available production")
	require.True(t, ok)
}

func TestLoadPresetsFromAFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	good := write("good.json", `[{"name": "tiny", "description": "d", "spec": {"version": "2024.01", "x": 1}}]`)
	presets, err := specform.LoadPresets(good)
	require.NoError(t, err)
	require.Equal(t, "tiny", presets[0].Name)
	require.Equal(t, "2024.01", presets[0].Spec.Version)
	require.Contains(t, presets[0].Spec.Extra, "x")

	for _, tc := range []struct{ file, content, want string }{
		{"object.json", `{"name": "x"}`, "not a JSON array of presets"},
		{"syntax.json", "[\n{\"name\": }]", "line 2, column 10"},
		{"empty.json", `[]`, "the list of presets is empty"},
		{"noname.json", `[{"spec": {}}]`, "preset 1 has no name"},
		{"twice.json", `[{"name": "a"}, {"name": "a"}]`, `preset "a" appears more than once`},
	} {
		path := write(tc.file, tc.content)
		_, err := specform.LoadPresets(path)
		require.ErrorContains(t, err, path, tc.file)
		require.ErrorContains(t, err, tc.want, tc.file)
	}
	_, err = specform.LoadPresets(filepath.Join(dir, "missing.json"))
	require.ErrorContains(t, err, "missing.json")
}

// FuzzFormRoundTrip: whatever a form posts, the spec it makes shows as a
// form that reads back to the same spec.
func FuzzFormRoundTrip(f *testing.F) {
	f.Add("2024.01", "3", "team", "60", "PROXIED", "druid-x\nb", "on", "s3://b/p")
	f.Add("", "abc", "", `{"a":1}`, "", "", "", "")
	f.Add("v", "-1", "n", `"q"`, "OIDC", " ", "", "x")
	f.Add("0", "0", "", `""`, "0", "0", "", "0") // a blank row whose value is typed as ""
	f.Fuzz(func(t *testing.T, version, replicas, tagName, tagValue, mode, extensions, remove, path string) {
		form := url.Values{
			"version": {version}, "master_replicas": {replicas}, "aws_tags_name": {tagName}, "aws_tags_value": {tagValue},
			"pivot_access_mode": {mode}, "druid_extensions": {extensions}, "data_tier2_instance_type": {path},
			"data_tier2_remove": {remove}, "deep_storage_path": {path}, "common_runtime_properties_value": {tagValue},
		}
		spec, _ := specform.Decode(form, cloudapi.ClusterSpec{})
		again, errs := specform.Decode(specform.Encode(spec), spec)
		require.Empty(t, errs)
		require.JSONEq(t, specJSON(t, spec), specJSON(t, again))
		require.Equal(t, specform.Encode(spec), specform.Encode(again))
		fromJSON, err := specform.DecodeJSON(specform.EncodeJSON(spec))
		require.NoError(t, err)
		require.JSONEq(t, specJSON(t, spec), specJSON(t, fromJSON))
	})
}
