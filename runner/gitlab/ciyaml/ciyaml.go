package ciyaml

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Job is one job of the file with `default:` and global settings merged in.
type Job struct {
	Name         string
	Stage        string
	Image        *Image
	Services     []Image
	Variables    []Variable // file order: globals, then the job's own
	BeforeScript []string
	Script       []string
	AfterScript  []string
	Cache        []Cache
	Artifacts    *Artifacts
	Timeout      time.Duration // 0 = not set
	AllowFailure bool
}

// Image is an image or service reference.
type Image struct {
	Name       string   `yaml:"name"`
	Entrypoint []string `yaml:"entrypoint"`
	Command    []string `yaml:"command"`
	Alias      string   `yaml:"alias"`
	PullPolicy strList  `yaml:"pull_policy"`
}

// Variable is a key and its value.
type Variable struct{ Key, Value string }

// Cache is one cache entry.
type Cache struct {
	Key          string    `yaml:"-"`
	Paths        []string  `yaml:"paths"`
	Policy       string    `yaml:"policy"`
	When         string    `yaml:"when"`
	Untracked    bool      `yaml:"untracked"`
	FallbackKeys []string  `yaml:"fallback_keys"`
	RawKey       yaml.Node `yaml:"key"`
}

// Artifacts is a job's artifacts section.
type Artifacts struct {
	Name      string   `yaml:"name"`
	Paths     []string `yaml:"paths"`
	Exclude   []string `yaml:"exclude"`
	Untracked bool     `yaml:"untracked"`
	When      string   `yaml:"when"`
	ExpireIn  string   `yaml:"expire_in"`
}

// strList accepts a string or a list of strings (nested lists flattened, as
// GitLab does for scripts).
type strList []string

func (s *strList) UnmarshalYAML(n *yaml.Node) error {
	var out []string
	var walk func(n *yaml.Node) error
	walk = func(n *yaml.Node) error {
		switch n.Kind {
		case yaml.ScalarNode:
			out = append(out, n.Value)
		case yaml.SequenceNode:
			for _, c := range n.Content {
				if err := walk(c); err != nil {
					return err
				}
			}
		case yaml.AliasNode:
			return walk(n.Alias)
		default:
			return fmt.Errorf("line %d: want a string or a list of strings", n.Line)
		}
		return nil
	}
	if err := walk(n); err != nil {
		return err
	}
	*s = out
	return nil
}

// imageRef accepts "name" or {name, entrypoint, ...}.
type imageRef struct{ Image }

func (i *imageRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		i.Name = n.Value
		return nil
	}
	type plain Image
	return n.Decode((*plain)(&i.Image))
}

// cacheList accepts one cache map or a list of them.
type cacheList []Cache

func (c *cacheList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var one Cache
		if err := n.Decode(&one); err != nil {
			return err
		}
		*c = cacheList{one}
		return nil
	}
	var many []Cache
	if err := n.Decode(&many); err != nil {
		return err
	}
	*c = many
	return nil
}

// section is the part of a job that `default:` can also hold.
type section struct {
	Image        *imageRef  `yaml:"image"`
	Services     []imageRef `yaml:"services"`
	BeforeScript *strList   `yaml:"before_script"`
	AfterScript  *strList   `yaml:"after_script"`
	Cache        *cacheList `yaml:"cache"`
	Timeout      string     `yaml:"timeout"`
}

type rawJob struct {
	section      `yaml:",inline"`
	Stage        string     `yaml:"stage"`
	Script       strList    `yaml:"script"`
	Variables    yaml.Node  `yaml:"variables"`
	Artifacts    *Artifacts `yaml:"artifacts"`
	AllowFailure yaml.Node  `yaml:"allow_failure"`
	Extends      yaml.Node  `yaml:"extends"`
	Rules        yaml.Node  `yaml:"rules"`
	Needs        yaml.Node  `yaml:"needs"`
}

// reserved top-level keys that are not jobs.
var reserved = map[string]bool{
	"default": true, "include": true, "stages": true, "variables": true, "workflow": true,
	"image": true, "services": true, "before_script": true, "after_script": true, "cache": true,
	"types": true,
}

// ErrUnsupported marks keywords this reader does not evaluate.
var ErrUnsupported = errors.New("unsupported .gitlab-ci.yml feature")

// Parse reads a .gitlab-ci.yml and returns the named job.
func Parse(data []byte, name string) (*Job, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse .gitlab-ci.yml: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("parse .gitlab-ci.yml: the top level must be a mapping")
	}
	top := doc.Content[0]
	var jobNode, defNode, varsNode *yaml.Node
	var names []string
	var global section
	if err := top.Decode(&global); err != nil {
		return nil, fmt.Errorf("parse .gitlab-ci.yml: %w", err)
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i].Value, top.Content[i+1]
		switch {
		case k == "default":
			defNode = v
		case k == "variables":
			varsNode = v
		case reserved[k] || strings.HasPrefix(k, "."):
		default:
			names = append(names, k)
			if k == name {
				jobNode = v
			}
		}
	}
	if jobNode == nil {
		sort.Strings(names)
		return nil, fmt.Errorf("job %q not found in .gitlab-ci.yml (jobs: %s)", name, strings.Join(names, ", "))
	}
	var def section
	if defNode != nil {
		if err := defNode.Decode(&def); err != nil {
			return nil, fmt.Errorf("parse default: %w", err)
		}
	}
	var rj rawJob
	if err := jobNode.Decode(&rj); err != nil {
		return nil, fmt.Errorf("parse job %q: %w", name, err)
	}
	for kw, n := range map[string]yaml.Node{"extends": rj.Extends, "rules": rj.Rules, "needs": rj.Needs} {
		if n.Kind != 0 {
			return nil, fmt.Errorf("job %q uses %q: %w", name, kw, ErrUnsupported)
		}
	}
	if len(rj.Script) == 0 {
		return nil, fmt.Errorf("job %q has no script", name)
	}
	j := &Job{Name: name, Stage: rj.Stage, Script: rj.Script, Artifacts: rj.Artifacts}
	if j.Stage == "" {
		j.Stage = "test"
	}
	// Job settings win over default:, which wins over the deprecated globals.
	merged := mergeSection(mergeSection(global, def), rj.section)
	if merged.Image != nil {
		img := merged.Image.Image
		j.Image = &img
	}
	for _, s := range merged.Services {
		j.Services = append(j.Services, s.Image)
	}
	if merged.BeforeScript != nil {
		j.BeforeScript = *merged.BeforeScript
	}
	if merged.AfterScript != nil {
		j.AfterScript = *merged.AfterScript
	}
	if merged.Cache != nil {
		for _, c := range *merged.Cache {
			key, err := cacheKey(c.RawKey)
			if err != nil {
				return nil, fmt.Errorf("job %q cache key: %w", name, err)
			}
			c.Key = key
			c.RawKey = yaml.Node{}
			j.Cache = append(j.Cache, c)
		}
	}
	if merged.Timeout != "" {
		d, err := ParseDuration(merged.Timeout)
		if err != nil {
			return nil, fmt.Errorf("job %q timeout: %w", name, err)
		}
		j.Timeout = d
	}
	var err error
	if j.AllowFailure, err = allowFailure(rj.AllowFailure); err != nil {
		return nil, fmt.Errorf("job %q allow_failure: %w", name, err)
	}
	gv, err := variables(varsNode)
	if err != nil {
		return nil, fmt.Errorf("variables: %w", err)
	}
	jv, err := variables(&rj.Variables)
	if err != nil {
		return nil, fmt.Errorf("job %q variables: %w", name, err)
	}
	j.Variables = append(gv, jv...)
	return j, nil
}

func mergeSection(base, over section) section {
	if over.Image != nil {
		base.Image = over.Image
	}
	if over.Services != nil {
		base.Services = over.Services
	}
	if over.BeforeScript != nil {
		base.BeforeScript = over.BeforeScript
	}
	if over.AfterScript != nil {
		base.AfterScript = over.AfterScript
	}
	if over.Cache != nil {
		base.Cache = over.Cache
	}
	if over.Timeout != "" {
		base.Timeout = over.Timeout
	}
	return base
}

func cacheKey(n yaml.Node) (string, error) {
	switch n.Kind {
	case 0:
		return "", nil
	case yaml.ScalarNode:
		return n.Value, nil
	}
	return "", fmt.Errorf("key:files is not supported by runner exec: %w", ErrUnsupported)
}

func allowFailure(n yaml.Node) (bool, error) {
	switch n.Kind {
	case 0:
		return false, nil
	case yaml.ScalarNode:
		return strconv.ParseBool(n.Value)
	}
	return true, nil // {exit_codes: ...}: treated as allowed
}

func variables(n *yaml.Node) ([]Variable, error) {
	if n == nil || n.Kind == 0 {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: want a mapping", n.Line)
	}
	var out []Variable
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch v.Kind {
		case yaml.ScalarNode:
			out = append(out, Variable{k, v.Value})
		case yaml.MappingNode:
			var full struct {
				Value string `yaml:"value"`
			}
			if err := v.Decode(&full); err != nil {
				return nil, fmt.Errorf("variable %s: %w", k, err)
			}
			out = append(out, Variable{k, full.Value})
		default:
			return nil, fmt.Errorf("variable %s (line %d): want a string", k, v.Line)
		}
	}
	return out, nil
}

var durationPart = regexp.MustCompile(`(?i)^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*`)

var durationUnits = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
}

// ParseDuration reads GitLab's human durations ("1h 30m", "3 hours",
// "90 minutes", "45s") and plain Go durations.
func ParseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(strings.ReplaceAll(s, " ", "")); err == nil && d > 0 {
		return d, nil
	}
	rest := strings.TrimSpace(s)
	var total time.Duration
	for rest != "" {
		m := durationPart.FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("duration %q: want e.g. \"1h 30m\" or \"90 minutes\"", s)
		}
		f, _ := strconv.ParseFloat(m[1], 64)
		unit, ok := durationUnits[strings.ToLower(m[2])]
		if !ok {
			return 0, fmt.Errorf("duration %q: unknown unit %q", s, m[2])
		}
		total += time.Duration(f * float64(unit))
		rest = strings.TrimSpace(rest[len(m[0]):])
		rest = strings.TrimPrefix(strings.TrimPrefix(rest, "and "), ",")
	}
	if total <= 0 {
		return 0, fmt.Errorf("duration %q must be positive", s)
	}
	return total, nil
}
