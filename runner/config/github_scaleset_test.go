package config

import (
	"slices"
	"strings"
	"testing"
)

func TestGitHubScaleSet(t *testing.T) {
	const head = "concurrent = 2\n"
	cases := []struct {
		name    string
		body    string
		wantErr string
		check   func(t *testing.T, s GitHubScaleSet)
	}{
		{
			name: "defaults",
			body: `[[github_scale_set]]
url = "https://github.com/acme"
token = "ghp_x"
scale_set = "fleet"
`,
			check: func(t *testing.T, s GitHubScaleSet) {
				if s.Name != "fleet" || s.MaxRunners != DefaultScaleSetMaxRunners || s.MinIdle != 0 ||
					!slices.Equal(s.Labels, []string{"fleet"}) || s.RunnerImage != DefaultGitHubRunnerImage || s.Token != "ghp_x" {
					t.Errorf("%+v", s)
				}
			},
		},
		{
			name: "all keys",
			body: `[[github_scale_set]]
name = "ss"
url = "https://ghe.example.com/acme/app"
token = "ghp_x"
scale_set = "big-linux"
labels = ["linux", "x64"]
runner_group = "builders"
min_idle = 2
max_runners = 20
limit = 4
memory = "2g"
`,
			check: func(t *testing.T, s GitHubScaleSet) {
				if s.Name != "ss" || s.ScaleSet != "big-linux" || s.MinIdle != 2 || s.MaxRunners != 20 || s.Limit != 4 ||
					s.RunnerGroup != "builders" || s.Memory != 2<<30 || !slices.Equal(s.Labels, []string{"linux", "x64"}) {
					t.Errorf("%+v", s)
				}
			},
		},
		{name: "bad name", body: "[[github_scale_set]]\nurl = \"https://github.com/acme\"\ntoken = \"t\"\nscale_set = \"my fleet\"\n", wantErr: "scale_set"},
		{name: "no name", body: "[[github_scale_set]]\nurl = \"https://github.com/acme\"\ntoken = \"t\"\n", wantErr: "scale_set"},
		{name: "min idle above max", body: "[[github_scale_set]]\nurl = \"https://github.com/acme\"\ntoken = \"t\"\nscale_set = \"f\"\nmin_idle = 5\nmax_runners = 2\n", wantErr: "min_idle"},
		{name: "no credentials", body: "[[github_scale_set]]\nurl = \"https://github.com/acme\"\nscale_set = \"f\"\n", wantErr: "credentials"},
		{name: "unknown key", body: "[[github_scale_set]]\nurl = \"https://github.com/acme\"\ntoken = \"t\"\nscale_set = \"f\"\nmax = 3\n", wantErr: "unknown key"},
		{name: "twice", body: strings.Repeat("[[github_scale_set]]\nurl = \"https://github.com/acme\"\ntoken = \"t\"\nscale_set = \"f\"\n", 2), wantErr: "twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(writeFile(t, head+tc.body), func(string) (string, bool) { return "", false })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.GitHubScaleSets) != 1 {
				t.Fatalf("%d scale sets", len(c.GitHubScaleSets))
			}
			tc.check(t, c.GitHubScaleSets[0])
		})
	}
}

// TestGitHubScaleSetOnFleetNode: a fleet node refuses a scale set holding
// a GitHub credential of its own, naming the fix, unless the table opts
// out (and then carries the start warning); a standalone agent is
// unchanged.
func TestGitHubScaleSetOnFleetNode(t *testing.T) {
	const fleet = "[fleet]\nurl = \"https://fleet.example:8780\"\n"
	const app = "[[github_scale_set]]\nurl = \"https://github.com/acme\"\nscale_set = \"big\"\napp_id = 1\ninstallation_id = 2\nprivate_key_file = \"/etc/key.pem\"\n"
	const pat = "[[github_scale_set]]\nurl = \"https://github.com/acme\"\nscale_set = \"big\"\ntoken = \"ghp_x\"\n"
	cases := []struct {
		name     string
		body     string
		wantErr  []string
		wantWarn string // "" = no warning
	}{
		{name: "standalone app", body: app},
		{name: "standalone token", body: pat},
		{name: "standalone opt-out is harmless", body: pat + "allow_node_credentials = true\n"},
		{name: "fleet app refused", body: fleet + app,
			wantErr: []string{"github_scale_set (big)", "app_id, installation_id, private_key_file", `credentials = "fleet"`, "[github_jit.scale_sets.big]", "allow_node_credentials = true"}},
		{name: "fleet token refused", body: fleet + pat, wantErr: []string{"token or token_file", "allow_node_credentials = true"}},
		{name: "fleet opt-out warns", body: fleet + app + "allow_node_credentials = true\n", wantWarn: "app_id, installation_id, private_key_file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(writeFile(t, "concurrent = 2\n"+tc.body), joinTokenEnv)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatal("loaded; want the fleet node refused")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := c.GitHubScaleSets[0].NodeCredentialsWarning(c.Fleet)
			if (w == "") != (tc.wantWarn == "") || !strings.Contains(w, tc.wantWarn) {
				t.Errorf("warning %q, want one containing %q", w, tc.wantWarn)
			}
		})
	}
}
