package sim

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// stateFile is the JSON kept in Config.StateFile.
type stateFile struct {
	Clusters []*cluster `json:"clusters"`
	IPSeq    int        `json:"ipSeq"`
	// RunningState is Config.RunningState when the file was written;
	// empty in files written before it existed (STARTED).
	RunningState cloudapi.ClusterState `json:"runningState,omitempty"`
}

// load reads Config.StateFile and reports whether there was one. Changes
// that were running when it was written are completed at once, and a
// running state written under another name takes Config.RunningState's.
func (s *Server) load() (bool, error) {
	if s.cfg.StateFile == "" {
		return false, nil
	}
	data, err := os.ReadFile(s.cfg.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sim: read state: %w", err)
	}
	var state stateFile
	if err := json.Unmarshal(data, &state); err != nil {
		return false, fmt.Errorf("sim: state file %s: %w", s.cfg.StateFile, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ipSeq = state.IPSeq
	written := cmp.Or(state.RunningState, cloudapi.StateStarted)
	for _, c := range state.Clusters {
		if c.Plan != nil && c.Plan.Next >= len(c.Plan.Stages) {
			return false, fmt.Errorf("sim: state file %s: cluster %s has a broken update plan", s.cfg.StateFile, c.UID)
		}
		if c.Status.State == written {
			c.Status.State = s.cfg.RunningState
		}
		if c.Plan != nil && c.Plan.Final == written {
			c.Plan.Final = s.cfg.RunningState
		}
		s.finishNow(c)
		s.clusters[c.UID] = c
	}
	return true, nil
}

// persist saves the state after a change, logging a failure: a simulator
// keeps serving even when its file cannot be written. Callers hold s.mu.
func (s *Server) persist() {
	if err := s.save(); err != nil {
		s.log.Error("sim: save state", "err", err)
	}
}

// save writes the state file atomically (temporary file, then rename).
// Callers hold s.mu.
func (s *Server) save() error {
	if s.cfg.StateFile == "" {
		return nil
	}
	state := stateFile{IPSeq: s.ipSeq, RunningState: s.cfg.RunningState}
	for _, c := range s.clusters {
		state.Clusters = append(state.Clusters, c)
	}
	data, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return fmt.Errorf("sim: encode state: %w", err)
	}
	dir := filepath.Dir(s.cfg.StateFile)
	tmp, err := os.CreateTemp(dir, ".sim-state-*")
	if err != nil {
		return fmt.Errorf("sim: save state: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("sim: save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sim: save state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.cfg.StateFile); err != nil {
		return fmt.Errorf("sim: save state: %w", err)
	}
	return nil
}
