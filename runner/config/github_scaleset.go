package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// GitHub runner scale sets live in [[github_scale_set]] tables: the keys
// of a [[github]] table (url, credentials, runner image, limits, tool
// cache, state dir; limit = this node's slots for the scale set) plus the
// scale set itself. Jobs target a scale set with `runs-on: <scale_set>`.
// With credentials = "fleet" the control plane holds the scale set's
// session ([github_jit.scale_sets.NAME]) and mints the node's runners; the
// table then names the scale set and how to run its runners only.

// GitHubScaleSetFile is one [[github_scale_set]] table.
type GitHubScaleSetFile struct {
	GitHubFile
	// ScaleSet is the scale set's name (created when missing).
	ScaleSet string `toml:"scale_set"`
	// MinIdle runners are kept ready beyond the assigned jobs.
	MinIdle int `toml:"min_idle,omitempty"`
	// MaxRunners caps the scale set (default 10).
	MaxRunners int `toml:"max_runners,omitempty"`
	// AllowNodeCredentials lets a fleet node ([fleet]) hold the scale
	// set's GitHub credential; without it such a node refuses to start
	// (fleetScaleSetError). Standalone agents need no opt-out.
	AllowNodeCredentials bool `toml:"allow_node_credentials,omitempty"`
}

// GitHubScaleSet is a validated [[github_scale_set]] table.
type GitHubScaleSet struct {
	GitHub
	ScaleSet   string
	MinIdle    int
	MaxRunners int
	// AllowNodeCredentials: the table's own credential may sit on a fleet
	// node (the agent warns at start).
	AllowNodeCredentials bool
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
		g.ScaleSet = f.ScaleSet
		if f.MinIdle != 0 || f.MaxRunners != 0 || f.AllowNodeCredentials {
			err = errors.New(`credentials = "fleet": the control plane's [github_jit.scale_sets.NAME] holds the scale set's session and sizes it; remove min_idle, max_runners and allow_node_credentials`)
		}
	}
	s := GitHubScaleSet{GitHub: g, ScaleSet: f.ScaleSet, MinIdle: f.MinIdle, MaxRunners: f.MaxRunners,
		AllowNodeCredentials: f.AllowNodeCredentials}
	if err != nil {
		return s, err
	}
	if !ValidScaleSetName(s.ScaleSet) {
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

// fleetScaleSetError refuses a fleet node ([fleet]) whose scale set holds
// a GitHub credential of its own unless the table opts out with
// allow_node_credentials = true: in a fleet the credential belongs to the
// control plane, and a job that takes over a node must not find it there.
func fleetScaleSetError(ss []GitHubScaleSet, fl Fleet) error {
	var errs []error
	for _, s := range ss {
		if s.FromFleet() && !fl.Enabled() {
			errs = append(errs, fmt.Errorf(`github_scale_set (%s): credentials = "fleet" needs a [fleet] section: the fleet's control plane holds the scale set's session and mints the runners`, s.ScaleSet))
		}
	}
	if !fl.Enabled() {
		return errors.Join(errs...)
	}
	for _, s := range ss {
		if s.FromFleet() || s.AllowNodeCredentials {
			continue
		}
		errs = append(errs, fmt.Errorf(`github_scale_set (%s): a fleet node ([fleet]) must not hold the scale set's GitHub credential (%s): `+
			`use credentials = "fleet" and [github_jit.scale_sets.%s] on the control plane, or set allow_node_credentials = true to keep it on the node`,
			s.ScaleSet, s.credentialKeys(), s.ScaleSet))
	}
	return errors.Join(errs...)
}

// sourceNameError refuses a [[github_scale_set]] table with the fleet's
// credentials named like a [[github]] table: both become label-mode
// sources, whose names key the journal and the metrics.
func sourceNameError(gs []GitHub, ss []GitHubScaleSet) error {
	var errs []error
	for _, s := range ss {
		if s.FromFleet() && slices.ContainsFunc(gs, func(g GitHub) bool { return g.Name == s.Name }) {
			errs = append(errs, fmt.Errorf(`github_scale_set (%s): name %q is a [[github]] table's too: give the scale set's table another name`, s.ScaleSet, s.Name))
		}
	}
	return errors.Join(errs...)
}

// credentialKeys names the keys holding the table's credential.
func (s GitHubScaleSet) credentialKeys() string {
	if s.AppID != 0 {
		return "app_id, installation_id, private_key_file"
	}
	return "token or token_file"
}

// NodeCredentialsWarning is the warning an agent of a fleet logs at start
// for each scale set that keeps its GitHub credential on the node
// (allow_node_credentials = true); "" when there is none to give.
func (s GitHubScaleSet) NodeCredentialsWarning(fl Fleet) string {
	if !fl.Enabled() || s.FromFleet() || !s.AllowNodeCredentials {
		return ""
	}
	return "allow_node_credentials = true: this fleet node holds the scale set's GitHub credential (" + s.credentialKeys() +
		"); a job that escapes its container can act as the GitHub App or token. Move the credential to the control plane's [github_jit]."
}

// ValidScaleSetName reports whether n is a scale-set name GitHub accepts:
// 1 to 100 letters, digits, ".", "_" or "-", not starting with a symbol.
func ValidScaleSetName(n string) bool {
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
