package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/githubtest"
	"github.com/runfleet/runfleet/runner/github/runnerversion"
)

// TestGitHubCheck: `runner github check` reads the latest actions/runner
// release through the configured API URL (the strict fake) and fails when
// the image's runner is too old for GitHub.
func TestGitHubCheck(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	cases := []struct {
		name      string
		image     string // the image's runner version
		flag      string // --runner-version
		min       string
		latest    string
		published time.Duration // before now
		token     string
		wantErr   error // nil: passes
		wantOut   string
	}{
		{name: "latest", image: "2.338.0", latest: "2.338.0", published: 90 * day, wantOut: "ok: runner 2.338.0 is the latest"},
		{name: "behind within 30 days", image: "2.337.0", latest: "2.338.0", published: 12 * day, wantOut: "update within 19 days"},
		{name: "behind for more than 30 days", image: "2.327.1", latest: "2.338.0", published: 45 * day, wantErr: errRunnerTooOld, wantOut: "TOO OLD for GitHub"},
		{name: "below the configured minimum", image: "2.337.0", min: "2.338.0", latest: "2.338.0", published: day, wantErr: errRunnerTooOld, wantOut: "older than the minimum 2.338.0"},
		{name: "flag overrides the image", image: "2.327.1", flag: "2.338.0", latest: "2.338.0", published: 45 * day, wantOut: "ok:"},
		{name: "bad credentials", image: "2.338.0", latest: "2.338.0", published: day, token: "ghp_wrong", wantErr: github.ErrUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := githubtest.New(t)
			srv.AddRepo("acme/app")
			srv.AddPAT("ghp_check", "orgs/acme")
			srv.SetRunnerRelease(tc.latest, now.Add(-tc.published))
			u, _ := url.Parse(srv.URL() + "/acme")
			token := tc.token
			if token == "" {
				token = "ghp_check"
			}
			cfg := &config.Config{GitHub: []config.GitHub{{Name: "gh", URL: u, Token: token, RunnerImage: "acme/runner:x"}}}
			o := githubCheckOptions{
				runnerVersion: tc.flag, now: func() time.Time { return now }, logger: slog.New(slog.DiscardHandler),
				imageVersion: func(_ context.Context, g config.GitHub) (string, error) {
					if g.RunnerImage != "acme/runner:x" {
						return "", fmt.Errorf("image %s", g.RunnerImage)
					}
					return tc.image, nil
				},
			}
			if tc.min != "" {
				o.policy.Min = runnerversion.MustParse(tc.min)
			}
			var out bytes.Buffer
			err := githubCheck(t.Context(), cfg, o, &out)
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("check: %v, want %v\n%s", err, tc.wantErr, out.String())
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("output %q lacks %q", out.String(), tc.wantOut)
			}
			if tc.wantErr == errRunnerTooOld && !strings.Contains(out.String(), "RUNNER_VERSION=") {
				t.Errorf("no fix printed: %q", out.String())
			}
		})
	}
}

// TestGitHubCheckCommand runs `runner github check` as operators do, on a
// config file, and sees it exit with an error for an outdated runner.
func TestGitHubCheckCommand(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddRepo("acme/app")
	srv.AddPAT("ghp_check", "orgs/acme")
	srv.SetRunnerRelease("2.338.0", time.Now().Add(-60*24*time.Hour))
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "pat")
	if err := os.WriteFile(tokenFile, []byte("ghp_check\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.toml")
	cfg := fmt.Sprintf("concurrent = 1\n\n[[github]]\nname = \"gh\"\nurl = %q\ntoken_file = %q\n", srv.URL()+"/acme", tokenFile)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version string
		fails   bool
	}{{"2.338.0", false}, {"2.327.1", true}} {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs([]string{"--config", cfgPath, "github", "check", "--runner-version", tc.version})
		err := root.ExecuteContext(t.Context())
		if (err != nil) != tc.fails || (tc.fails && !errors.Is(err, errRunnerTooOld)) {
			t.Errorf("runner %s: %v, want failure %v\n%s", tc.version, err, tc.fails, out.String())
		}
	}
}

// TestDockerImageVersion reads the runner version label from the real
// Docker engine: the stand-in image carries runnerversion.Default as
// images/github-runner carries its RUNNER_VERSION; an image without the
// label is an error, not a guess.
func TestDockerImageVersion(t *testing.T) {
	cases := []struct {
		image, want string
	}{
		{"runfleet/github-runner-stub:latest", runnerversion.Default},
		{"runfleet/busybox:latest", ""},
	}
	for _, tc := range cases {
		got, err := dockerImageVersion(t.Context(), config.GitHub{RunnerImage: tc.image})
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("%s: %q, %v; want %q (images are built by 'make images')", tc.image, got, err, tc.want)
		}
	}
	if _, err := dockerImageVersion(t.Context(), config.GitHub{RunnerImage: "x", Executor: "containerd"}); err == nil {
		t.Error("containerd images were inspected on Docker")
	}
}

// TestGitHubCheckFleetCredentials: a [[github]] table with the fleet's
// credentials has none to read the releases with: it is reported as not
// checked, and the command does not fail for it.
func TestGitHubCheckFleetCredentials(t *testing.T) {
	cfg := &config.Config{GitHub: []config.GitHub{{Name: "gh", Credentials: config.CredentialsFleet, RunnerImage: "acme/runner:x"}}}
	var out bytes.Buffer
	o := githubCheckOptions{logger: slog.New(slog.DiscardHandler), imageVersion: func(context.Context, config.GitHub) (string, error) {
		return "", errors.New("the image is not read for a table that is not checked")
	}}
	if err := githubCheck(context.Background(), cfg, o, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `github gh: image acme/runner:x: not checked: credentials = "fleet"`) {
		t.Errorf("output %q", out.String())
	}
}
