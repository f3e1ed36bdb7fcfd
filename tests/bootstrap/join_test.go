package bootstrap

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/runner/config"
)

// loadNodeConfig loads /etc/runfleet/config.toml as copied out of a node with the agent's
// loader, with the files it names (join token, fleet CA) beside it; it returns the config
// and the directory standing in for /etc/runfleet.
func loadNodeConfig(t *testing.T, etc map[string]entry) (*config.Config, string) {
	t.Helper()
	local := t.TempDir()
	for _, f := range []string{"join-token", "fleet-ca.pem"} {
		if err := os.WriteFile(filepath.Join(local, f), etc["/etc/runfleet/"+f].data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(local, "config.toml")
	text := strings.ReplaceAll(string(etc["/etc/runfleet/config.toml"].data), "/etc/runfleet/", local+"/")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("the agent refuses the config the bootstrap wrote: %v\n%s", err, text)
	}
	return cfg, local
}

// checkFleet: the node joins the control plane over TLS with the fleet's CA, proves which
// instance it is with its identity document, and holds the join token in a file.
func checkFleet(t *testing.T, cfg *config.Config, etc map[string]entry, local string) {
	t.Helper()
	if fl := cfg.Fleet; fl.URL == nil || fl.URL.String() != "https://10.0.1.10:8080" || fl.JoinToken != joinToken || fl.Identity != "aws" ||
		fl.CAFile != filepath.Join(local, "fleet-ca.pem") || fl.ProviderID != instanceID {
		t.Errorf("fleet membership: %+v", fl)
	}
	if got := string(etc["/etc/runfleet/fleet-ca.pem"].data); got != fleetCA+"\n" {
		t.Errorf("fleet-ca.pem holds %q", got)
	}
	checkMode(t, etc, "/etc/runfleet/join-token", 0o600)
	checkMode(t, etc, "/etc/runfleet/fleet-ca.pem", 0o600)
	if _, ok := etc["/etc/runfleet/runner.env"]; ok {
		t.Error("runner.env written: the fleet settings belong in [fleet], the join token in its file")
	}
}

// engineImage is what an image with the engine holds, for the tests that stub the engine:
// its unit (enabled by the bootstrap) and its commands (found by `command -v`, never run).
var engineImage = struct {
	stubs  []string
	before string
}{
	stubs:  []string{"docker", "logrotate"},
	before: "printf '[Unit]\\nDescription=stub engine\\n[Service]\\nExecStart=/bin/false\\n[Install]\\nWantedBy=multi-user.target\\n' > /lib/systemd/system/docker.service\n",
}

// TestBootstrapJoinsFleet boots a GitLab node whose engine is already present (as on a baked
// image; the engine's installation from the mirror is TestBootstrapFreshGitLab's): the agent
// is downloaded and checked, the secrets, the join token and the fleet's CA certificate come
// from the (stubbed) stores, and the installed agent reads the config, [fleet] included.
func TestBootstrapJoinsFleet(t *testing.T) {
	e := setup(t)
	t.Parallel()
	userData := renderNodeUserData(t, nodeVars("gitlab", sha256File(t, e.runner)))
	n := runNode(t, e, run{
		image: e.base, userData: userData, agent: e.runner, stubs: engineImage.stubs, before: engineImage.before, offline: true,
		secrets: map[string]string{tokenARN: gitlabToken, joinARN: joinToken, caARN: fleetCA},
		after:   "/usr/local/bin/runner list --config /etc/runfleet/config.toml > /opt/fake/list.out\n",
	})
	if n.err != nil {
		t.Fatalf("bootstrap failed: %v", n.err)
	}
	if strings.Contains(n.out, "installing") {
		t.Error("the node installed packages although the engine is present")
	}
	for _, secret := range []string{gitlabToken, joinToken} {
		if strings.Contains(n.out, secret) {
			t.Error("the bootstrap log shows a secret")
		}
	}
	etc := copyOut(t, n.ctr, "/etc/runfleet")
	checkMode(t, etc, "/etc/runfleet/config.toml", 0o600)
	cfg, local := loadNodeConfig(t, etc)
	checkFleet(t, cfg, etc, local)
	list, err := os.ReadFile(filepath.Join(n.dir, "list.out"))
	if err != nil || !strings.Contains(string(list), "ci-"+instanceID) {
		t.Errorf("the installed agent does not read its config: %v\n%s", err, list)
	}
	calls := n.calls(t)
	for _, want := range []string{
		"aws secretsmanager get-secret-value --secret-id " + joinARN + " --query SecretString --output text",
		"aws ssm get-parameter --with-decryption --name " + caARN + " --query Parameter.Value --output text",
		"GET /runner",
	} {
		if !slices.Contains(calls, want) {
			t.Errorf("no call %q; calls:\n%s", want, strings.Join(calls, "\n"))
		}
	}
	checkUnit(t, n)
}

// TestBootstrapRefusesUncheckedAgent: an agent download that does not match agent_sha256
// is never installed or run, and the boot stops before any secret is read.
func TestBootstrapRefusesUncheckedAgent(t *testing.T) {
	e := setup(t)
	t.Parallel()
	n := runNode(t, e, run{
		image: e.base, userData: renderNodeUserData(t, nodeVars("gitlab", strings.Repeat("0", 64))), agent: e.runner,
		stubs: engineImage.stubs, before: engineImage.before, offline: true,
		secrets: map[string]string{tokenARN: gitlabToken, joinARN: joinToken, caARN: fleetCA},
	})
	if n.err == nil || !strings.Contains(n.out, "does not match SHA-256") {
		t.Fatalf("a boot with the wrong agent SHA-256 did not fail loudly (err %v)", n.err)
	}
	calls := n.calls(t)
	if !slices.Contains(calls, "GET /runner") {
		t.Errorf("the agent was not downloaded; calls:\n%s", strings.Join(calls, "\n"))
	}
	for _, c := range calls {
		if strings.HasPrefix(c, "aws ") {
			t.Errorf("a boot with an unchecked agent read a secret: %s", c)
		}
	}
	if _, err := docker("cp", n.ctr+":/usr/local/bin/runner", t.TempDir()); err == nil {
		t.Error("the unchecked agent was installed")
	}
}

// TestBootstrapWarmNode boots a node of the warm pool's group: launched into the warm pool
// (target state Warmed:Stopped) it installs and enables the agent without starting it and
// completes the group's launching hook; launched into service (or leaving the pool) it
// starts the agent first. A warm node's agent never keeps a node token across a stop.
func TestBootstrapWarmNode(t *testing.T) {
	e := setup(t)
	t.Parallel()
	vars := nodeVars("gitlab", sha256File(t, e.runner))
	vars["asg_name"], vars["warm_pool_hook"] = "ci-warm", "runfleet-node-ready"
	userData := renderNodeUserData(t, vars)
	complete := "aws autoscaling complete-lifecycle-action --region eu-west-1 --auto-scaling-group-name ci-warm" +
		" --lifecycle-hook-name runfleet-node-ready --instance-id " + instanceID + " --lifecycle-action-result CONTINUE"
	for _, c := range []struct {
		name, state  string
		agentStarted bool
		after        string
		completed    bool
	}{
		// What systemd would run at boot: the hook's unit (the fake systemctl runs nothing).
		{"warming", "Warmed:Stopped", false, "/usr/local/sbin/runfleet-lifecycle\n", true},
		{"in-service", "InService", true, "/usr/local/sbin/runfleet-lifecycle\n", true},
		// In service with the agent down, the hook is not completed (the group abandons the
		// instance when the heartbeat times out).
		{"in-service-agent-down", "InService", true,
			"rm -f /opt/fake/active/runfleet-runner.service\nif /usr/local/sbin/runfleet-lifecycle; then exit 1; fi\n", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := runNode(t, e, run{
				image: e.base, userData: userData, agent: e.runner, stubs: engineImage.stubs, before: engineImage.before, offline: true,
				secrets:        map[string]string{tokenARN: gitlabToken, joinARN: joinToken, caARN: fleetCA},
				lifecycleState: c.state, after: c.after,
			})
			if n.err != nil {
				t.Fatalf("bootstrap failed: %v", n.err)
			}
			calls := n.calls(t)
			if got := slices.Contains(calls, "systemctl start runfleet-runner.service"); got != c.agentStarted {
				t.Errorf("agent started: %v, want %v; calls:\n%s", got, c.agentStarted, strings.Join(calls, "\n"))
			}
			if slices.Contains(calls, "systemctl enable --now runfleet-runner.service") {
				t.Error("a warm node starts its agent unconditionally")
			}
			want := []string{"systemctl enable runfleet-runner.service runfleet-lifecycle.service", "systemctl start runfleet-lifecycle.service"}
			if !inOrder(calls, want) {
				t.Errorf("calls lack %q in order:\n%s", want, strings.Join(calls, "\n"))
			}
			if got := slices.Contains(calls, complete); got != c.completed {
				t.Errorf("launching hook completed: %v, want %v; calls:\n%s", got, c.completed, strings.Join(calls, "\n"))
			}
			sys := copyOut(t, n.ctr, "/etc/systemd/system")
			if link := sys["/etc/systemd/system/multi-user.target.wants/runfleet-lifecycle.service"]; link.linkname != "/etc/systemd/system/runfleet-lifecycle.service" {
				t.Error("runfleet-lifecycle.service is not enabled: a node leaving the warm pool would never complete the hook")
			}
			if unit := string(sys["/etc/systemd/system/runfleet-runner.service"].data); !strings.Contains(unit, "\nExecStartPre=-/bin/rm -f /var/lib/runfleet/fleet-node-token\n") {
				t.Errorf("a warm node's agent keeps its node token across a stop:\n%s", unit)
			}
		})
	}
}
