// Package specform maps the create and update forms to a cluster spec and
// back, and holds the presets that fill the create form.
package specform

import "github.com/clusterdesk/clusterdesk/internal/cloudapi"

// Preset is a named starting point for the create form.
type Preset struct {
	Name        string               `json:"name"`
	Description string               `json:"description"`
	Spec        cloudapi.ClusterSpec `json:"spec"`
}

// LoadPresets returns the presets of the JSON file at path, or the
// built-in ones when path is "".
func LoadPresets(path string) ([]Preset, error) {
	return nil, nil
}
