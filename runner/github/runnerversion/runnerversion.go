// Package runnerversion is the GitHub Actions runner version runfleet
// ships (images/github-runner builds it by default), GitHub's refusal of
// outdated runners as the runner prints it, and the policy `runner github
// check` applies: GitHub refuses runners older than its minimum and expects
// self-hosted runners to update within 30 days of each release.
package runnerversion

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Default is the actions/runner release images/github-runner builds unless
// RUNNER_VERSION says otherwise, with the SHA-256 of its Linux tarballs
// (from the release notes). Bump all three with every runner release
// (TestDockerfileDefaults keeps the Dockerfile in step).
const (
	Default            = "2.338.0"
	DefaultSHA256X64   = "af4b794c1bc41d73d40535e3fe092a39f9679cd8d965954c2aca25a05ca41d32"
	DefaultSHA256ARM64 = "628b4a7258487b80c1d3c221095a7ded349f5ae0175fd3dfab708d07428f041b"
)

// Grace is how long after a release GitHub keeps serving jobs to the
// previous runner versions.
const Grace = 30 * 24 * time.Hour

// Version is a runner version, major.minor.patch.
type Version struct{ Major, Minor, Patch int }

// Parse reads "2.338.0" or "v2.338.0".
func Parse(s string) (Version, error) {
	parts := strings.Split(strings.TrimPrefix(strings.TrimSpace(s), "v"), ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("runner version %q: want major.minor.patch", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || p == "" || (len(p) > 1 && p[0] == '0') {
			return Version{}, fmt.Errorf("runner version %q: want major.minor.patch", s)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// MustParse is Parse for constants.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w.
func (v Version) Compare(w Version) int {
	for _, d := range [3]int{v.Major - w.Major, v.Minor - w.Minor, v.Patch - w.Patch} {
		switch {
		case d < 0:
			return -1
		case d > 0:
			return 1
		}
	}
	return 0
}

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool { return v.Compare(w) < 0 }

// Deprecated is the message GitHub's broker answers (403 Forbidden) to a
// runner whose version it no longer accepts; the runner prints it as
// "An error occured: [Error: Forbidden ]Runner version v2.x.y is deprecated
// and cannot receive messages." and exits without retrying.
func Deprecated(v string) string {
	return "Runner version v" + strings.TrimPrefix(v, "v") + " is deprecated and cannot receive messages."
}

var deprecated = regexp.MustCompile(`Runner version v?(\d+\.\d+\.\d+) is deprecated and cannot receive messages`)

// ParseDeprecated finds GitHub's refusal in a line of runner output and
// returns the refused version.
func ParseDeprecated(line string) (string, bool) {
	m := deprecated.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// Policy decides whether a runner version is too old for GitHub.
type Policy struct {
	// Min is the oldest version accepted regardless of releases (zero:
	// none).
	Min Version
	// Grace after the latest release during which older versions still
	// pass (zero: Grace).
	Grace time.Duration
}

// Check compares configured with the latest release (published at
// published): too old when below p.Min, or not the latest while the latest
// is older than the grace period. The reason says why, or how long is left.
func (p Policy) Check(configured, latest Version, published, now time.Time) (ok bool, reason string) {
	grace := p.Grace
	if grace == 0 {
		grace = Grace
	}
	if p.Min != (Version{}) && configured.Less(p.Min) {
		return false, fmt.Sprintf("runner %s is older than the minimum %s", configured, p.Min)
	}
	if !configured.Less(latest) {
		return true, fmt.Sprintf("runner %s is the latest release", configured)
	}
	age := now.Sub(published)
	if age > grace {
		return false, fmt.Sprintf("runner %s is not the latest (%s, published %s, %d days ago; GitHub expects updates within %d days)",
			configured, latest, published.UTC().Format(time.DateOnly), int(age.Hours()/24), int(grace.Hours()/24))
	}
	return true, fmt.Sprintf("runner %s is behind %s (published %s): update within %d days",
		configured, latest, published.UTC().Format(time.DateOnly), int((grace-age).Hours()/24)+1)
}

// Fix is the operator's remedy for an outdated runner image.
func Fix(image string) string {
	if image == "" {
		image = "runfleet/github-runner:latest"
	}
	return "rebuild the runner image with the latest actions/runner release and its checksums, e.g. " +
		"docker build --build-arg RUNNER_VERSION=<latest> --build-arg RUNNER_SHA256_X64=<sha256 from the release notes> " +
		"-t " + image + " images/github-runner (`runner github check` names the latest), then restart the agent"
}
