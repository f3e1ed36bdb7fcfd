package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/github/githubtest"
	"github.com/runfleet/runfleet/runner/github/scalesettest"
)

// TestGitHubRegister runs `runner register` for GitHub against the fake
// GitHub (a GitHub Enterprise Server URL: the API is under /api/v3): a
// personal access token at org scope, a GitHub App (key file) at repo
// scope, a known runner group; a wrong token and an unknown runner group
// fail with a clear error, a non-zero exit and the config untouched; the
// config is 0600 and loads with runner/config.
func TestGitHubRegister(t *testing.T) {
	t.Parallel()
	srv := githubtest.New(t)
	srv.AddRepo("acme/app")
	srv.AddRunnerGroup("orgs/acme", "big-builders")
	srv.AddPAT("ghp_registerE2E000000000000000000000001", "orgs/acme")
	key := srv.AddApp(4242, 77, "acme")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "app.pem")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "etc", "config.toml")
	gh := func(args ...string) (string, error) {
		return runCLI(t, append([]string{"register", "--non-interactive", "--platform", "github", "--config", cfg}, args...)...)
	}

	// A wrong token before anything was written: no config appears.
	out, err := gh("--url", srv.URL()+"/acme", "--token", "ghp_wrong0000000000000000000000000000000")
	if err == nil || !strings.Contains(out, "config untouched") || !strings.Contains(out, "credentials rejected") {
		t.Fatalf("wrong token: err=%v\n%s", err, out)
	}
	if _, err := os.Stat(cfg); !os.IsNotExist(err) {
		t.Fatalf("a failed registration created the config: %v", err)
	}

	// PAT, organization, a runner group that exists.
	out, err = gh("--url", srv.URL()+"/acme", "--token", "ghp_registerE2E000000000000000000000001",
		"--name", "org-pat", "--labels", "self-hosted,linux,x64", "--runner-group", "big-builders", "--limit", "3")
	if err != nil {
		t.Fatalf("register with a token: %v\n%s", err, out)
	}
	if !strings.Contains(out, "orgs/acme") || strings.Contains(out, "ghp_register") {
		t.Fatalf("register output: %s", out)
	}
	st, err := os.Stat(cfg)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config mode: %v %v", st, err)
	}

	// GitHub App with a key file, repository scope.
	out, err = gh("--url", srv.URL()+"/acme/app", "--app-id", "4242", "--installation-id", "77",
		"--private-key-file", keyFile, "--name", "repo-app", "--labels", "self-hosted,linux")
	if err != nil {
		t.Fatalf("register with an App: %v\n%s", err, out)
	}
	if !strings.Contains(out, "repos/acme/app") || !strings.Contains(out, "GitHub App 4242") {
		t.Fatalf("register output: %s", out)
	}
	before, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"wrong token", []string{"--url", srv.URL() + "/acme", "--token", "ghp_wrong0000000000000000000000000000000"},
			[]string{"config untouched", "credentials rejected"}},
		{"app not installed there", []string{"--url", srv.URL() + "/acme", "--app-id", "4242", "--installation-id", "78", "--private-key-file", keyFile},
			[]string{"config untouched", "installation token"}},
		{"unknown runner group", []string{"--url", srv.URL() + "/acme", "--token", "ghp_registerE2E000000000000000000000001", "--runner-group", "nope"},
			[]string{"config untouched", `runner group "nope"`, "not found"}},
		{"runner group on a repository", []string{"--url", srv.URL() + "/acme/app", "--app-id", "4242", "--installation-id", "77", "--private-key-file", keyFile, "--runner-group", "big-builders"},
			[]string{"config untouched", "only the Default group"}},
		{"token out of scope", []string{"--url", srv.URL() + "/other", "--token", "ghp_registerE2E000000000000000000000001"},
			[]string{"config untouched"}},
		{"app and token", []string{"--url", srv.URL() + "/acme", "--token", "x", "--app-id", "4242", "--installation-id", "77", "--private-key-file", keyFile},
			[]string{"not both"}},
	} {
		out, err := gh(append(tc.args, "--name", "never")...)
		if err == nil {
			t.Errorf("%s: exit 0\n%s", tc.name, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, out)
			}
		}
		if strings.Contains(out, "ghp_registerE2E") {
			t.Errorf("%s: the token appears in the output", tc.name)
		}
		if after, _ := os.ReadFile(cfg); string(after) != string(before) {
			t.Fatalf("%s: config changed by a failed registration", tc.name)
		}
	}

	c, err := config.Load(cfg, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("load the written config: %v\n%s", err, before)
	}
	if len(c.GitHub) != 2 {
		t.Fatalf("github tables: %+v", c.GitHub)
	}
	pat, app := c.GitHub[0], c.GitHub[1]
	if pat.Name != "org-pat" || pat.URL.String() != srv.URL()+"/acme" || pat.Token != "ghp_registerE2E000000000000000000000001" ||
		pat.RunnerGroup != "big-builders" || pat.Limit != 3 || strings.Join(pat.Labels, ",") != "self-hosted,linux,x64" {
		t.Errorf("token table: %+v", pat)
	}
	if app.Name != "repo-app" || app.AppID != 4242 || app.InstallationID != 77 || app.PrivateKeyFile != keyFile || app.Token != "" {
		t.Errorf("app table: %+v", app)
	}
	if strings.Contains(string(before), "PRIVATE KEY") {
		t.Error("the private key was copied into the config")
	}
}

// TestGitHubRegisterScaleSet: --scale-set writes a [[github_scale_set]]
// table after checking the credentials and the runner group with the
// scale-set service; an unknown group or a wrong token changes nothing.
func TestGitHubRegisterScaleSet(t *testing.T) {
	t.Parallel()
	const pat = "ghp_registerScaleSet000000000000000001"
	fake := scalesettest.New(t, scalesettest.Options{Token: pat, RunnerGroups: []string{"gpu"}, AllowViolations: true})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	gh := func(args ...string) (string, error) {
		return runCLI(t, append([]string{"register", "--non-interactive", "--platform", "github", "--config", cfg}, args...)...)
	}
	out, err := gh("--url", fake.ConfigURL("acme"), "--token", pat, "--scale-set", "linux-big", "--runner-group", "gpu",
		"--max-runners", "5", "--min-idle", "1")
	if err != nil {
		t.Fatalf("register a scale set: %v\n%s", err, out)
	}
	st, err := os.Stat(cfg)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config mode: %v %v", st, err)
	}
	before, _ := os.ReadFile(cfg)
	if !strings.Contains(string(before), "[[github_scale_set]]") {
		t.Fatalf("no [[github_scale_set]] table:\n%s", before)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown group", []string{"--token", pat, "--scale-set", "other", "--runner-group", "nope"}, `runner group "nope"`},
		{"wrong token", []string{"--token", "ghp_wrong00000000000000000000000000000", "--scale-set", "other"}, "config untouched"},
		{"bad name", []string{"--token", pat, "--scale-set", "-bad"}, "scale_set"},
	} {
		out, err := gh(append([]string{"--url", fake.ConfigURL("acme")}, tc.args...)...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s: err=%v, want %q in:\n%s", tc.name, err, tc.want, out)
		}
		if after, _ := os.ReadFile(cfg); string(after) != string(before) {
			t.Fatalf("%s: config changed by a failed registration", tc.name)
		}
	}
	c, err := config.Load(cfg, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("load: %v\n%s", err, before)
	}
	if len(c.GitHubScaleSets) != 1 || len(c.GitHub) != 0 {
		t.Fatalf("tables: %+v %+v", c.GitHubScaleSets, c.GitHub)
	}
	s := c.GitHubScaleSets[0]
	if s.ScaleSet != "linux-big" || s.Name != "linux-big" || s.RunnerGroup != "gpu" || s.MaxRunners != 5 || s.MinIdle != 1 ||
		s.Token != pat || strings.Join(s.Labels, ",") != "linux-big" {
		t.Errorf("scale set table: %+v", s)
	}
}
