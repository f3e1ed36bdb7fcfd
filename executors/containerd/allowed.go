package containerd

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"

	"github.com/runfleet/runfleet/executors"
)

// imagePattern is one compiled allowed_images glob.
type imagePattern struct {
	glob string
	re   *regexp.Regexp
}

// compilePatterns turns globs into anchored regular expressions: "**"
// matches anything, "*" anything but "/", "?" one character but "/".
func compilePatterns(globs []string) ([]imagePattern, error) {
	out := make([]imagePattern, 0, len(globs))
	for _, g := range globs {
		if g == "" {
			return nil, fmt.Errorf("empty pattern")
		}
		var b strings.Builder
		b.WriteString("^")
		for i := 0; i < len(g); i++ {
			switch {
			case strings.HasPrefix(g[i:], "**"):
				b.WriteString(".*")
				i++
			case g[i] == '*':
				b.WriteString("[^/]*")
			case g[i] == '?':
				b.WriteString("[^/]")
			default:
				b.WriteString(regexp.QuoteMeta(g[i : i+1]))
			}
		}
		b.WriteString("$")
		re, err := regexp.Compile(b.String())
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", g, err)
		}
		out = append(out, imagePattern{glob: g, re: re})
	}
	return out, nil
}

// imageNames returns the forms of name a pattern may match: as written,
// the familiar form with a tag ("busybox:latest") and the fully
// qualified form ("docker.io/library/busybox:latest").
func imageNames(name string) []string {
	names := []string{name}
	ref, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return names
	}
	ref = reference.TagNameOnly(ref)
	return append(names, reference.FamiliarString(ref), ref.String())
}

// checkAllowed returns an error wrapping executors.ErrImageNotAllowed when
// patterns is non-empty and none matches name.
func checkAllowed(patterns []imagePattern, name string) error {
	if len(patterns) == 0 {
		return nil
	}
	for _, n := range imageNames(name) {
		for _, p := range patterns {
			if p.re.MatchString(n) {
				return nil
			}
		}
	}
	return fmt.Errorf("containerd: image %q: %w", name, executors.ErrImageNotAllowed)
}
