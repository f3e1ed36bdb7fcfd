package config

import (
	"strings"
	"testing"
)

// TestGitHubFleetCredentials: a [[github]] table with credentials =
// "fleet" carries no GitHub credential and no target, and needs [fleet].
func TestGitHubFleetCredentials(t *testing.T) {
	const fleet = "[fleet]\nurl = \"https://fleet.example:8780\"\n"
	const table = "[[github]]\nname = \"gh\"\ncredentials = \"fleet\"\nlabels = [\"self-hosted\", \"linux\"]\n"
	cases := []struct {
		name    string
		body    string
		wantErr string
	}{
		{name: "fleet credentials", body: fleet + table},
		{name: "no [fleet]", body: table, wantErr: `credentials = "fleet" needs a [fleet] section`},
		{name: "with a private key", body: fleet + table + "app_id = 1\ninstallation_id = 2\nprivate_key_file = \"/etc/key.pem\"\n",
			wantErr: "remove app_id, installation_id, private_key_file"},
		{name: "with a token", body: fleet + table + "token = \"ghp_x\"\n", wantErr: "remove token"},
		{name: "with a url", body: fleet + table + "url = \"https://github.com/acme\"\n", wantErr: "remove url"},
		{name: "with a runner group", body: fleet + table + "runner_group = \"builders\"\n", wantErr: "remove runner_group"},
		{name: "unknown mode", body: fleet + "[[github]]\ncredentials = \"vault\"\n", wantErr: `credentials "vault": want "fleet"`},
		{name: "scale sets keep their own", body: fleet + "[[github_scale_set]]\ncredentials = \"fleet\"\nscale_set = \"s\"\n",
			wantErr: "a scale set keeps its own credentials"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := func(k string) (string, bool) {
				if k == "RUNFLEET_FLEET_JOIN_TOKEN" {
					return "join", true
				}
				return "", false
			}
			c, err := Load(writeFile(t, "concurrent = 2\n"+tc.body), env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g := c.GitHub[0]
			if !g.FromFleet() || g.URL != nil || g.Token != "" || g.AppID != 0 {
				t.Errorf("%+v: want the fleet's credentials and nothing of its own", g)
			}
			if s := g.String(); !strings.Contains(s, "fleet") {
				t.Errorf("String() %q does not say the fleet's credentials", s)
			}
		})
	}
}

// TestGitHubDirsFromEnv: the docker provider's nodes put every [[github]]
// table's state and tool cache under the node directory it shares with
// the engine's host.
func TestGitHubDirsFromEnv(t *testing.T) {
	env := map[string]string{"RUNFLEET_GITHUB_STATE_DIR": "/n/github", "RUNFLEET_GITHUB_TOOL_CACHE_DIR": "/n/toolcache"}
	body := "concurrent = 2\n" +
		"[[github]]\nname = \"a\"\nurl = \"https://github.com/acme\"\ntoken = \"t\"\n" +
		"[[github]]\nname = \"b\"\nurl = \"https://github.com/acme\"\ntoken = \"t\"\n"
	c, err := Load(writeFile(t, body), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range c.GitHub {
		if g.StateDir != "/n/github" || g.ToolCacheDir != "/n/toolcache" {
			t.Errorf("%s: state_dir %q tool_cache_dir %q, want the environment's", g.Name, g.StateDir, g.ToolCacheDir)
		}
	}
	if len(c.GitHub) != 2 {
		t.Fatalf("%d tables", len(c.GitHub))
	}
}
