package github

import (
	"errors"
	"strings"
	"testing"
)

// TestRefusalWatch: GitHub's refusal is found whatever the write
// boundaries, the output passes through unchanged, and look-alikes or
// overlong lines are not mistaken for it.
func TestRefusalWatch(t *testing.T) {
	refusal := "An error occurred: Error: Forbidden Runner version v2.327.1 is deprecated and cannot receive messages.\n"
	cases := []struct {
		name   string
		writes []string
		want   string
	}{
		{"one write", []string{"Current runner version: '2.327.1'\n", refusal}, "2.327.1"},
		{"split mid-line", []string{refusal[:20], refusal[20:50], refusal[50:]}, "2.327.1"},
		{"unterminated last line", []string{strings.TrimSuffix(refusal, "\n")}, "2.327.1"},
		{"two lines in one write", []string{"Listening for Jobs\n" + refusal + "Runner listener exit with terminated error, stop the service, no retry needed.\n"}, "2.327.1"},
		{"look-alike", []string{"Warning: Runner version '2.317.0' is outdated\n"}, ""},
		{"overlong line", []string{strings.Repeat("x", maxWatchedLine) + refusal}, ""},
		{"healthy runner", []string{"√ Connected to GitHub\n", "Listening for Jobs\n"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			w := &refusalWatch{out: &out}
			for _, s := range tc.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("write %d, %v", n, err)
				}
			}
			if got := w.refused(); got != tc.want {
				t.Errorf("refused %q, want %q", got, tc.want)
			}
			if out.String() != strings.Join(tc.writes, "") {
				t.Error("output was altered")
			}
		})
	}
}

func TestRunnerOutdatedError(t *testing.T) {
	err := error(&RunnerOutdatedError{Image: "acme/runner:1", Version: "2.327.1"})
	if !errors.Is(err, ErrRunnerOutdated) {
		t.Error("errors.Is(err, ErrRunnerOutdated) is false")
	}
	for _, want := range []string{"acme/runner:1", "Runner version v2.327.1 is deprecated", "RUNNER_VERSION=", "runner github check"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}
