// Package specform maps the create and update forms to a cluster spec and
// back, and holds the presets that fill the create form.
package specform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Preset is a named starting point for the create form.
type Preset struct {
	Name        string               `json:"name"`
	Description string               `json:"description"`
	Spec        cloudapi.ClusterSpec `json:"spec"`
}

// LoadPresets returns the presets of the JSON file at path, or the
// built-in ones when path is "". The file holds a JSON array of
// {"name", "description", "spec"}; every preset needs a name of its own.
// Errors name the file and what is wrong with it.
func LoadPresets(path string) ([]Preset, error) {
	if path == "" {
		return BuiltinPresets(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("specform: presets file: %w", err)
	}
	presets, err := parsePresets(data)
	if err != nil {
		return nil, fmt.Errorf("specform: presets file %s: %w", path, err)
	}
	return presets, nil
}

func parsePresets(data []byte) ([]Preset, error) {
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '[' {
		return nil, errors.New(`not a JSON array of presets ([{"name": …, "description": …, "spec": {…}}])`)
	}
	var presets []Preset
	if err := json.Unmarshal(data, &presets); err != nil {
		if syntax, ok := errors.AsType[*json.SyntaxError](err); ok {
			line, col := position(data, syntax.Offset)
			return nil, fmt.Errorf("line %d, column %d: %w", line, col, err)
		}
		return nil, err
	}
	if len(presets) == 0 {
		return nil, errors.New("the list of presets is empty")
	}
	seen := map[string]bool{}
	for i, p := range presets {
		name := strings.TrimSpace(p.Name)
		switch {
		case name == "":
			return nil, fmt.Errorf("preset %d has no name", i+1)
		case seen[name]:
			return nil, fmt.Errorf("preset %q appears more than once", name)
		}
		seen[name] = true
	}
	return presets, nil
}

// PresetByName returns the preset called name.
func PresetByName(presets []Preset, name string) (Preset, bool) {
	for _, p := range presets {
		if p.Name == name {
			return p, true
		}
	}
	return Preset{}, false
}

// BuiltinPresets are the presets when no file is configured: both pass the
// local rules and the simulator's validation.
func BuiltinPresets() []Preset {
	return []Preset{
		{
			Name:        "small development cluster",
			Description: "One server of each kind on small instances, unencrypted, Pivot proxied: for trying things out.",
			Spec: cloudapi.ClusterSpec{
				Version:         "2024.01",
				DesiredState:    cloudapi.DesiredStarted,
				AWSInstanceRole: "imply-dev-instance",
				AWSTags:         []cloudapi.NameValue{cloudapi.StringValue("env", "development")},
				Master:          &cloudapi.MasterConfig{Replicas: ptr[int32](1), InstanceType: "t3.medium"},
				Query:           &cloudapi.QueryConfig{Replicas: ptr[int32](1), InstanceType: "t3.medium"},
				Data: &cloudapi.DataConfig{
					Tier1: &cloudapi.DataTier{Replicas: ptr[int32](1), InstanceType: "t3.large"},
				},
				Pivot:       &cloudapi.PivotAccess{AccessMode: cloudapi.AccessProxied},
				DeepStorage: &cloudapi.DeepStorage{Path: "s3://example-druid-dev/segments"},
			},
		},
		{
			Name:        "highly available production",
			Description: "Three masters, two query servers, two data tiers, encrypted volumes, metadata store and deep storage, monitored metadata store with two weeks of backups.",
			Spec: cloudapi.ClusterSpec{
				Version:                 "2024.01",
				DesiredState:            cloudapi.DesiredStarted,
				AWSInstanceRole:         "imply-prod-instance",
				AWSTags:                 []cloudapi.NameValue{cloudapi.StringValue("env", "production")},
				EncryptVolumes:          ptr(true),
				CommonRuntimeProperties: []cloudapi.NameValue{cloudapi.StringValue("druid.server.http.numThreads", "60")},
				Master:                  &cloudapi.MasterConfig{Replicas: ptr[int32](3), InstanceType: "m5.large"},
				Query:                   &cloudapi.QueryConfig{Replicas: ptr[int32](2), InstanceType: "c5.2xlarge"},
				Data: &cloudapi.DataConfig{
					Tier1: &cloudapi.DataTier{Replicas: ptr[int32](3), InstanceType: "i3.2xlarge"},
					Tier2: &cloudapi.DataTier{Replicas: ptr[int32](2), InstanceType: "d3.xlarge"},
				},
				MetadataStore: &cloudapi.MetadataStore{InstanceType: "db.r5.large", DiskSize: ptr[int32](100),
					BackupRetention: ptr[int32](14), Monitoring: ptr(true), Encrypt: ptr(true)},
				Pivot:           &cloudapi.PivotAccess{AccessMode: cloudapi.AccessProxied},
				DeepStorage:     &cloudapi.DeepStorage{Path: "s3://example-druid-prod/segments", Encrypt: ptr(true)},
				DruidExtensions: []string{"druid-datasketches", "druid-kafka-indexing-service"},
			},
		},
	}
}

func ptr[T any](v T) *T { return &v }
