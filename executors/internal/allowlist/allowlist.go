// Package allowlist holds the allowed_images check both executors apply
// before they pull or start an image: globs in gitlab-runner's syntax,
// matched against the name as written and its normalized form.
package allowlist

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"

	"github.com/runfleet/runfleet/executors"
)

// Pattern is one compiled allowed_images glob.
type Pattern struct {
	glob string
	re   *regexp.Regexp
}

// Compile turns globs into anchored regular expressions: "**"
// matches anything, "*" anything but "/", "?" one character but "/".
func Compile(globs []string) ([]Pattern, error) {
	out := make([]Pattern, 0, len(globs))
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
		out = append(out, Pattern{glob: g, re: re})
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

// Check returns an error wrapping executors.ErrImageNotAllowed when
// patterns is non-empty and none matches name.
func Check(engine string, patterns []Pattern, name string) error {
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
	return fmt.Errorf("%s: image %q: %w", engine, name, executors.ErrImageNotAllowed)
}

// CheckSpec checks the job's and services' images against the executor's
// own patterns and the spec's AllowedImages (set per runner when runners
// share one executor).
func CheckSpec(engine string, own []Pattern, spec executors.Spec) error {
	perSpec, err := Compile(spec.AllowedImages)
	if err != nil {
		return fmt.Errorf("%s: allowed_images: %w", engine, err)
	}
	for _, ps := range [][]Pattern{own, perSpec} {
		if err := Check(engine, ps, spec.Image.Name); err != nil {
			return err
		}
		for _, s := range spec.Services {
			if err := Check(engine, ps, s.Image.Name); err != nil {
				return fmt.Errorf("service: %w", err)
			}
		}
	}
	return nil
}
