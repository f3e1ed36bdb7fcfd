package runnerversion

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want Version
		ok   bool
	}{
		{"2.338.0", Version{2, 338, 0}, true},
		{"v2.327.1", Version{2, 327, 1}, true},
		{" 2.300.10 ", Version{2, 300, 10}, true},
		{"2.338", Version{}, false},
		{"2.338.0.1", Version{}, false},
		{"2.x.0", Version{}, false},
		{"2.-1.0", Version{}, false},
		{"2.038.0", Version{}, false},
		{"", Version{}, false},
	}
	for _, tc := range cases {
		got, err := Parse(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestCompare(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"2.338.0", "2.338.0", 0},
		{"2.327.1", "2.338.0", -1},
		{"2.338.1", "2.338.0", 1},
		{"3.0.0", "2.999.9", 1},
		{"2.9.0", "2.10.0", -1}, // numeric, not lexical
	}
	for _, tc := range cases {
		if got := MustParse(tc.a).Compare(MustParse(tc.b)); got != tc.want {
			t.Errorf("%s vs %s = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestParseDeprecated: the refusal as runners print it (lines reported in
// actions/runner issues #1991, #3651 and #4613), and lines that only look
// alike.
func TestParseDeprecated(t *testing.T) {
	cases := []struct {
		line string
		want string
	}{
		{"An error occurred: Runner version v2.291.1 is deprecated and cannot receive messages.", "2.291.1"},
		{"An error occured: Runner version v2.320.0 is deprecated and cannot receive messages.", "2.320.0"},
		{"An error occurred: Error: Forbidden Runner version v2.336.0 is deprecated and cannot receive messages.", "2.336.0"},
		{"[RUNNER 2025-03-25 20:39:45Z ERR  Terminal] WRITE ERROR: An error occured: Runner version v2.321.0 is deprecated and cannot receive messages.", "2.321.0"},
		{Deprecated("2.327.1"), "2.327.1"},
		{"Warning: Runner version '2.317.0' is outdated", ""},
		{"Runner listener exit with terminated error, stop the service, no retry needed.", ""},
	}
	for _, tc := range cases {
		got, ok := ParseDeprecated(tc.line)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("ParseDeprecated(%q) = %q, %v; want %q", tc.line, got, ok, tc.want)
		}
	}
}

func TestPolicy(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	latest := MustParse("2.338.0")
	cases := []struct {
		name       string
		p          Policy
		configured string
		published  time.Time
		ok         bool
		reason     string
	}{
		{"latest", Policy{}, "2.338.0", now.Add(-90 * 24 * time.Hour), true, "is the latest"},
		{"newer than latest (pre-release)", Policy{}, "2.339.0", now.Add(-90 * 24 * time.Hour), true, "is the latest"},
		{"behind, within grace", Policy{}, "2.337.0", now.Add(-10 * 24 * time.Hour), true, "update within 21 days"},
		{"behind, grace over", Policy{}, "2.327.1", now.Add(-31 * 24 * time.Hour), false, "31 days ago"},
		{"below the minimum", Policy{Min: MustParse("2.330.0")}, "2.327.1", now.Add(-time.Hour), false, "older than the minimum 2.330.0"},
		{"custom grace", Policy{Grace: 7 * 24 * time.Hour}, "2.337.0", now.Add(-8 * 24 * time.Hour), false, "within 7 days"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason := tc.p.Check(MustParse(tc.configured), latest, tc.published, now)
			if ok != tc.ok || !strings.Contains(reason, tc.reason) {
				t.Errorf("Check = %v %q; want %v, reason containing %q", ok, reason, tc.ok, tc.reason)
			}
		})
	}
}

// TestDockerfileDefaults: images/github-runner builds Default with its
// checksums, and refuses to build without a checksum.
func TestDockerfileDefaults(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "images", "github-runner", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for arg, want := range map[string]string{
		"RUNNER_VERSION": Default, "RUNNER_SHA256_X64": DefaultSHA256X64, "RUNNER_SHA256_ARM64": DefaultSHA256ARM64,
	} {
		m := regexp.MustCompile(`(?m)^ARG ` + arg + `=(\S*)$`).FindStringSubmatch(df)
		if m == nil || m[1] != want {
			t.Errorf("Dockerfile ARG %s = %v, want %s", arg, m, want)
		}
	}
	if !strings.Contains(df, `sha256sum -c -`) || strings.Contains(df, `if [ -n "${sum}" ]`) {
		t.Error("the Dockerfile must always verify the tarball's checksum")
	}
}
