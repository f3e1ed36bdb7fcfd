package config

import (
	"errors"
	"fmt"
	"strings"
)

// GitHub runner scale sets live in [[github_scale_set]] tables: the keys
// of a [[github]] table (url, credentials, runner image, limits, tool
// cache, state dir; limit = this node's slots for the scale set) plus the
// scale set itself. Jobs target a scale set with `runs-on: <scale_set>`.

// GitHubScaleSetFile is one [[github_scale_set]] table.
type GitHubScaleSetFile struct {
	GitHubFile
	// ScaleSet is the scale set's name (created when missing).
	ScaleSet string `toml:"scale_set"`
	// MinIdle runners are kept ready beyond the assigned jobs.
	MinIdle int `toml:"min_idle,omitempty"`
	// MaxRunners caps the scale set (default 10).
	MaxRunners int `toml:"max_runners,omitempty"`
}

// GitHubScaleSet is a validated [[github_scale_set]] table.
type GitHubScaleSet struct {
	GitHub
	ScaleSet   string
	MinIdle    int
	MaxRunners int
}

// DefaultScaleSetMaxRunners is max_runners when unset.
const DefaultScaleSetMaxRunners = 10

func scaleSetsFromFiles(fs []GitHubScaleSetFile) ([]GitHubScaleSet, error) {
	var out []GitHubScaleSet
	var errs []error
	names := map[string]bool{}
	for i, f := range fs {
		s, err := scaleSetFromFile(f)
		if err == nil && names[s.ScaleSet] {
			err = fmt.Errorf("scale set %q is configured twice", s.ScaleSet)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("github_scale_set[%d] (%s): %w", i, f.ScaleSet, err))
			continue
		}
		names[s.ScaleSet] = true
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

func scaleSetFromFile(f GitHubScaleSetFile) (GitHubScaleSet, error) {
	if f.Name == "" {
		f.Name = f.ScaleSet
	}
	g, err := githubFromFile(f.GitHubFile)
	if err == nil && g.FromFleet() {
		err = errors.New(`credentials = "fleet" is for [[github]] tables: a scale set keeps its own credentials (app_id… or token_file)`)
	}
	s := GitHubScaleSet{GitHub: g, ScaleSet: f.ScaleSet, MinIdle: f.MinIdle, MaxRunners: f.MaxRunners}
	if err != nil {
		return s, err
	}
	if !validScaleSetName(s.ScaleSet) {
		return s, fmt.Errorf("scale_set %q: want 1 to 100 letters, digits, '.', '_' or '-'", s.ScaleSet)
	}
	if len(f.Labels) == 0 {
		s.Labels = []string{s.ScaleSet} // not [[github]]'s self-hosted default
	}
	if s.MaxRunners == 0 {
		s.MaxRunners = DefaultScaleSetMaxRunners
	}
	if s.MaxRunners < 0 || s.MinIdle < 0 || s.MinIdle > s.MaxRunners {
		return s, fmt.Errorf("want 0 <= min_idle (%d) <= max_runners (%d)", s.MinIdle, s.MaxRunners)
	}
	return s, nil
}

func validScaleSetName(n string) bool {
	if n == "" || len(n) > 100 || strings.ContainsAny(n[:1], ".-_") {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// AppendGitHubScaleSet adds a [[github_scale_set]] table to the config at
// path, as AppendGitHub does for [[github]] (mode 0600, atomic, existing
// text kept).
func AppendGitHubScaleSet(path string, s GitHubScaleSetFile) error {
	return appendTable(path, struct {
		GitHubScaleSets []GitHubScaleSetFile `toml:"github_scale_set"`
	}{[]GitHubScaleSetFile{s}})
}

// ValidateGitHubScaleSet checks a [[github_scale_set]] table as the agent
// will load it and returns the validated table.
func ValidateGitHubScaleSet(f GitHubScaleSetFile) (GitHubScaleSet, error) {
	ss, err := scaleSetsFromFiles([]GitHubScaleSetFile{f})
	if err != nil {
		return GitHubScaleSet{}, err
	}
	return ss[0], nil
}
