package bootstrap

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/runner/config"
)

const (
	instanceID = "i-0123456789abcdef0"
	tokenARN   = "arn:aws:ssm:eu-west-1:123456789012:parameter/runfleet/ci/runner-token"
	joinARN    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runfleet/ci/join-AbCdEf"
	caARN      = "arn:aws:ssm:eu-west-1:123456789012:parameter/runfleet/ci/fleet-ca-certificate"
	// fleetCA stands in for the CA certificate the autoscaler publishes (the parameter store
	// hands it back without its final newline, as the CLI's text output does).
	fleetCA = "-----BEGIN CERTIFICATE-----\nTESTONLY\n-----END CERTIFICATE-----"
	// Stand-ins for the secrets, shaped like the real ones.
	gitlabToken = "glrt-t3st_S3cr3t-v4lue.0123"
	joinToken   = "join-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	// appKey is the GitHub App key in the store: the autoscaler's, never read by a node.
	appKey = "-----BEGIN RSA PRIVATE KEY-----\nTESTONLY\n-----END RSA PRIVATE KEY-----"
)

// nodeVars are the template values the module would pass for a fleet named ci; the agent
// comes from fakenode's file server inside the container. A GitHub node is not told the
// App key's ARN: the autoscaler alone reads it.
func nodeVars(platform, agentSHA string) map[string]string {
	secretARN := tokenARN
	if platform == "github" {
		secretARN = ""
	}
	return map[string]string{
		"platform":             platform,
		"fleet_name":           "ci",
		"gitlab_url":           "https://gitlab.example.com",
		"github_runner_image":  "runfleet/github-runner:test",
		"runner_labels_toml":   `"self-hosted", "linux"`,
		"runner_secret_arn":    secretARN,
		"fleet_join_token_arn": joinARN,
		"fleet_ca_arn":         caARN,
		"autoscaler_endpoint":  "https://10.0.1.10:8080",
		"region":               "eu-west-1",
		"deb_arch":             "amd64",
		"agent_url":            "http://127.0.0.1:8081/runner",
		"agent_sha256":         agentSHA,
		"slots_per_node":       "3",
		"shutdown_timeout":     "90",
		"stop_timeout":         "120",
		"job_image":            "runfleet/job-base:bookworm",
		"job_cpus":             "1.5",
		"job_memory":           "2g",
		"job_pids_limit":       "4096",
		"job_shm_size":         "256m",
		"log_group":            "/runfleet/ci/nodes",
		"cache_bucket":         "ci-cache-0123",
		"asg_name":             "ci-nodes",
		"warm_pool_hook":       "",
	}
}

// node is one run of the user-data in a container.
type node struct {
	ctr string // container ID (kept until the test ends, for docker cp / commit)
	dir string // host side of /opt/fake
	out string // the container's output (the bootstrap log)
	err error  // the run's exit status
}

// harness prepares the container the way a fresh instance looks from inside (the IMDS
// address answers, no init system) and runs the user-data as root.
const harness = `#!/bin/bash
set -euo pipefail
/opt/fake/busybox ip addr add 169.254.169.254/32 dev lo
# No init system in a container: packages must not try to start their services.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
install -d /opt/aws/amazon-cloudwatch-agent/bin /opt/aws/amazon-cloudwatch-agent/etc
ln -sf /opt/fake/fakenode /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl
/opt/fake/fakenode serve -instance-id ` + instanceID + ` &
for _ in $(seq 1 200); do [ -e /opt/fake/ready ] && break; sleep 0.05; done
[ -e /opt/fake/ready ] || { echo "harness: fakenode did not start" >&2; exit 1; }
export PATH=/opt/fake/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
set -a
. /opt/fake/env
set +a
if [ -x /opt/fake/before.sh ]; then /opt/fake/before.sh; fi
bash /opt/fake/user-data.sh
if [ -x /opt/fake/after.sh ]; then /opt/fake/after.sh; fi
`

// run is one run of the user-data in a container.
type run struct {
	image    string
	userData string
	agent    string            // host path of the file served as the agent binary
	secrets  map[string]string // the secret store: ARN -> value
	env      []string          // KEY=VALUE for the user-data (RUNFLEET_BOOTSTRAP_PHASE, …)
	after    string            // bash run in the container once the user-data succeeded
	// stubs are commands put on PATH as present but failing when run: what `command -v`
	// must find so the bootstrap skips installing it (when the mirror is out of reach).
	stubs []string
	// before is bash run in the container before the user-data (what an image would hold).
	before string
	// offline runs the container without a network (loopback only: the fakes are there).
	offline bool
	// lifecycleState, when set, is the Auto Scaling target lifecycle state IMDS reports.
	lifecycleState string
}

// runNode runs r in a new container and keeps the container until the test ends.
func runNode(t *testing.T, e *env, r run) *node {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	copyFile := func(src, dst string, mode os.FileMode) {
		b, err := os.ReadFile(src)
		must(err)
		must(os.WriteFile(dst, b, mode))
	}
	copyFile(e.fakenode, filepath.Join(dir, "fakenode"), 0o755)
	copyFile(e.busybox, filepath.Join(dir, "busybox"), 0o755)
	must(os.MkdirAll(filepath.Join(dir, "files"), 0o755))
	copyFile(r.agent, filepath.Join(dir, "files", "runner"), 0o755)
	must(os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	for _, n := range []string{"aws", "systemctl"} {
		must(os.Symlink("/opt/fake/fakenode", filepath.Join(dir, "bin", n)))
	}
	for _, n := range r.stubs {
		must(os.WriteFile(filepath.Join(dir, "bin", n), []byte("#!/bin/sh\necho \"stub $0 must not run: $*\" >&2\nexit 1\n"), 0o755))
	}
	secrets, err := json.Marshal(r.secrets)
	must(err)
	must(os.WriteFile(filepath.Join(dir, "secrets.json"), secrets, 0o600))
	must(os.WriteFile(filepath.Join(dir, "user-data.sh"), []byte(r.userData), 0o700))
	must(os.WriteFile(filepath.Join(dir, "harness.sh"), []byte(harness), 0o755))
	// Through a file, not `docker run -e`: a committed image would keep the variables.
	must(os.WriteFile(filepath.Join(dir, "env"), []byte(strings.Join(r.env, "\n")+"\n"), 0o644))
	if r.after != "" {
		must(os.WriteFile(filepath.Join(dir, "after.sh"), []byte("#!/bin/bash\nset -euo pipefail\n"+r.after), 0o755))
	}
	if r.lifecycleState != "" {
		must(os.WriteFile(filepath.Join(dir, "lifecycle-state"), []byte(r.lifecycleState+"\n"), 0o644))
	}
	if r.before != "" {
		must(os.WriteFile(filepath.Join(dir, "before.sh"), []byte("#!/bin/bash\nset -euo pipefail\n"+r.before), 0o755))
	}
	name := "runfleet-bootstrap-" + randomHex(4)
	args := []string{"create", "--name", name, "--label", testLabel, "--cap-add", "NET_ADMIN", "-v", dir + ":/opt/fake"}
	if r.offline {
		args = append(args, "--network", "none")
	}
	if _, err := docker(append(args, r.image, "/opt/fake/harness.sh")...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	out, err := exec.Command("docker", "start", "-a", name).CombinedOutput()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("container %s output:\n%s", name, out)
		}
	})
	return &node{ctr: name, dir: dir, out: string(out), err: err}
}

// calls reads what the fakes recorded.
func (n *node) calls(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(n.dir, "calls.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c struct {
			Cmd  string   `json:"cmd"`
			Args []string `json:"args"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join(append([]string{c.Cmd}, c.Args...), " "))
	}
	return out
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// inOrder reports whether want appear in got in this order (other calls may come between).
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// TestBootstrapFreshGitLab boots a fresh Debian bookworm as a GitLab node: the engine comes
// from the Debian mirror, the agent from the file server (checked against its SHA-256), the
// token from the (stubbed) parameter store; the config, the env file and the unit are then
// read back and the config is loaded with the agent's strict reader and by the installed
// agent itself.
func TestBootstrapFreshGitLab(t *testing.T) {
	e := setup(t)
	t.Parallel()
	sum := sha256File(t, e.runner)
	userData := renderNodeUserData(t, nodeVars("gitlab", sum))
	n := runNode(t, e, run{
		image: e.base, userData: userData, agent: e.runner,
		secrets: map[string]string{tokenARN: gitlabToken, joinARN: joinToken, caARN: fleetCA},
		after:   "/usr/local/bin/runner list --config /etc/runfleet/config.toml > /opt/fake/list.out\n",
	})
	if n.err != nil {
		t.Fatalf("bootstrap failed: %v", n.err)
	}

	if !strings.Contains(n.out, "runfleet bootstrap: installing docker.io iptables") {
		t.Error("the engine was not installed from the mirror")
	}
	if strings.Contains(n.out, gitlabToken) {
		t.Error("the bootstrap log shows the runner token")
	}
	bins := copyOut(t, n.ctr, "/usr/sbin/dockerd")
	if ent, ok := bins["/usr/sbin/dockerd"]; !ok || ent.mode&0o111 == 0 {
		t.Errorf("dockerd not installed: %+v", bins)
	}
	agent := copyOut(t, n.ctr, "/usr/local/bin/runner")["/usr/local/bin/runner"]
	if agent.mode.Perm() != 0o755 || hex.EncodeToString(sha(agent.data)) != sum {
		t.Errorf("/usr/local/bin/runner: mode %v, not the served binary", agent.mode)
	}

	etc := copyOut(t, n.ctr, "/etc/runfleet")
	checkMode(t, etc, "/etc/runfleet", os.ModeDir|0o700)
	checkMode(t, etc, "/etc/runfleet/config.toml", 0o600)
	checkMode(t, etc, "/etc/runfleet/join-token", 0o600)
	checkMode(t, etc, "/etc/runfleet/fleet-ca.pem", 0o600)
	if _, ok := etc["/etc/runfleet/runner.env"]; ok {
		t.Error("runner.env written: the fleet settings belong in [fleet], the join token in its file")
	}
	if _, ok := etc["/etc/runfleet/config.toml.new"]; ok {
		t.Error("config.toml.new left behind")
	}
	cfg, local := loadNodeConfig(t, etc)
	if cfg.Concurrent != 3 || cfg.Node != instanceID || cfg.Interruption.Cloud != "aws" || cfg.LogFormat != "json" {
		t.Errorf("globals: %+v", cfg)
	}
	if len(cfg.Runners) != 1 {
		t.Fatalf("%d runners, want 1", len(cfg.Runners))
	}
	r := cfg.Runners[0]
	if r.Token != gitlabToken || r.URL.String() != "https://gitlab.example.com" || r.Name != "ci-"+instanceID || r.Executor != "docker" {
		t.Errorf("runner: name %q url %v executor %q token from the store: %v", r.Name, r.URL, r.Executor, r.Token == gitlabToken)
	}
	if d := r.Docker; d.Image != "runfleet/job-base:bookworm" || d.NanoCPUs != 1_500_000_000 || d.Memory != 2<<30 || d.PidsLimit != 4096 || d.ShmSize != 256<<20 || d.Privileged {
		t.Errorf("job limits: %+v", d)
	}
	if c := r.Cache; c.Type != "s3" || !c.Shared || c.S3.Bucket != "ci-cache-0123" || c.S3.Region != "eu-west-1" {
		t.Errorf("cache: %+v, want the fleet's S3 bucket, shared", c)
	}
	checkFleet(t, cfg, etc, local)
	list, err := os.ReadFile(filepath.Join(n.dir, "list.out"))
	if err != nil || !strings.Contains(string(list), "ci-"+instanceID) || strings.Contains(string(list), gitlabToken) {
		t.Errorf("the installed agent does not list its runner (or shows the whole token): %v\n%s", err, list)
	}

	checkUnit(t, n)
	calls := n.calls(t)
	for _, want := range []string{
		"aws ssm get-parameter --with-decryption --name " + tokenARN + " --query Parameter.Value --output text",
		"aws secretsmanager get-secret-value --secret-id " + joinARN + " --query SecretString --output text",
	} {
		if !slices.Contains(calls, want) {
			t.Errorf("no call %q; calls:\n%s", want, strings.Join(calls, "\n"))
		}
	}
	checkLogShipping(t, n, calls)
}

func sha(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func checkMode(t *testing.T, files map[string]entry, path string, want os.FileMode) {
	t.Helper()
	ent, ok := files[path]
	if !ok {
		t.Errorf("%s was not written", path)
		return
	}
	if got := ent.mode & (os.ModeDir | os.ModePerm); got != want || ent.uid != 0 {
		t.Errorf("%s: mode %v uid %d, want %v uid 0", path, got, ent.uid, want)
	}
}

// checkUnit: the agent's unit is written, enabled into multi-user.target after the engine,
// restarts on failure and gives jobs time to finish on stop.
func checkUnit(t *testing.T, n *node) {
	t.Helper()
	sys := copyOut(t, n.ctr, "/etc/systemd/system")
	unit := sys["/etc/systemd/system/runfleet-runner.service"]
	checkMode(t, sys, "/etc/systemd/system/runfleet-runner.service", 0o644)
	for _, want := range []string{
		"\n[Service]\n", "\nExecStart=/usr/local/bin/runner run --config /etc/runfleet/config.toml\n",
		"\nRestart=always\n", "\nRestartSec=5\n", "\nTimeoutStopSec=120\n", "\nKillSignal=SIGTERM\n",
		"\nRequires=docker.service\n", "\nEnvironmentFile=-/etc/runfleet/runner.env\n",
		"\n[Install]\nWantedBy=multi-user.target\n",
	} {
		if !strings.Contains(string(unit.data), want) {
			t.Errorf("runfleet-runner.service lacks %q:\n%s", strings.TrimSpace(want), unit.data)
		}
	}
	link := sys["/etc/systemd/system/multi-user.target.wants/runfleet-runner.service"]
	if link.linkname != "/etc/systemd/system/runfleet-runner.service" {
		t.Errorf("runfleet-runner.service is not enabled (wants link %q)", link.linkname)
	}
	calls := n.calls(t)
	if !inOrder(calls, []string{"systemctl enable --now docker", "systemctl daemon-reload", "systemctl enable --now runfleet-runner.service"}) {
		t.Errorf("systemctl calls out of order:\n%s", strings.Join(calls, "\n"))
	}
}

// checkLogShipping: the CloudWatch agent (present, as on a baked image) is configured with
// the fleet's log group.
func checkLogShipping(t *testing.T, n *node, calls []string) {
	t.Helper()
	const cw = "/opt/aws/amazon-cloudwatch-agent/etc/runfleet.json"
	if !slices.Contains(calls, "amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:"+cw) {
		t.Errorf("the CloudWatch agent was not started; calls:\n%s", strings.Join(calls, "\n"))
	}
	var doc struct {
		Logs struct {
			LogsCollected struct {
				Files struct {
					CollectList []struct {
						FilePath     string `json:"file_path"`
						LogGroupName string `json:"log_group_name"`
					} `json:"collect_list"`
				} `json:"files"`
			} `json:"logs_collected"`
		} `json:"logs"`
	}
	if err := json.Unmarshal(copyOut(t, n.ctr, cw)[cw].data, &doc); err != nil {
		t.Fatalf("%s: %v", cw, err)
	}
	l := doc.Logs.LogsCollected.Files.CollectList
	if len(l) != 2 || l[0].FilePath != "/var/log/runfleet/runner.log" || l[0].LogGroupName != "/runfleet/ci/nodes" {
		t.Errorf("CloudWatch agent config: %+v", l)
	}
}

// fakeAgent is a test double of the runner binary: the bootstrap must not run it (the agent
// starts as a systemd service, absent in the container).
const fakeAgent = `#!/bin/sh
# test double of the runfleet agent (tests/bootstrap): records how it was called
printf '%s\n' "$*" >> /opt/fake/runner-calls
`

// TestBootstrapBakedGitHub bakes a node image (RUNFLEET_BOOTSTRAP_PHASE=install, as the
// Packer recipe does), commits it, and boots it as a GitHub node: nothing is installed or
// downloaded again, no secret is in the image, and the node never reads the App key (the
// store holds it, for the autoscaler): its config has a [[github]] table with the fleet's
// credentials, which the agent's loader accepts.
func TestBootstrapBakedGitHub(t *testing.T) {
	e := setup(t)
	t.Parallel()
	agent := filepath.Join(t.TempDir(), "runner")
	if err := os.WriteFile(agent, []byte(fakeAgent), 0o755); err != nil {
		t.Fatal(err)
	}
	userData := renderNodeUserData(t, nodeVars("github", sha256File(t, agent)))
	secrets := map[string]string{tokenARN: appKey, joinARN: joinToken, caARN: fleetCA}

	bake := runNode(t, e, run{
		image: e.base, userData: userData, agent: agent, secrets: secrets,
		env: []string{"RUNFLEET_BOOTSTRAP_PHASE=install", "RUNFLEET_PREPULL_IMAGES="},
	})
	if bake.err != nil {
		t.Fatalf("bake failed: %v", bake.err)
	}
	calls := bake.calls(t)
	if !strings.Contains(bake.out, "runfleet bootstrap: installing docker.io") || !slices.Contains(calls, "GET /runner") {
		t.Errorf("the bake did not install the engine and the agent; calls:\n%s", strings.Join(calls, "\n"))
	}
	for _, c := range calls {
		if strings.HasPrefix(c, "aws ") {
			t.Errorf("the bake read a secret: %s", c)
		}
	}
	if _, err := docker("exec", bake.ctr, "true"); err == nil {
		t.Fatal("the bake container still runs")
	}
	image := "runfleet-test/bootstrap-baked:" + randomHex(6)
	if _, err := docker("commit", "--change", "LABEL "+testLabel, bake.ctr, image); err != nil {
		t.Fatal(err)
	}
	addImage(image)
	if out, _ := docker("run", "--rm", image, "sh", "-c", "ls -A /etc/runfleet 2>/dev/null; ls /var/lib/cloud 2>/dev/null; true"); strings.TrimSpace(out) != "" {
		t.Errorf("the baked image holds node state: %q", out)
	}

	boot := runNode(t, e, run{image: image, userData: userData, agent: agent, secrets: secrets})
	if boot.err != nil {
		t.Fatalf("boot failed: %v", boot.err)
	}
	if strings.Contains(boot.out, "installing") {
		t.Error("the baked node installed packages again")
	}
	calls = boot.calls(t)
	if slices.Contains(calls, "GET /runner") {
		t.Error("the baked node downloaded the agent again")
	}
	if strings.Contains(boot.out, "TESTONLY") {
		t.Error("the bootstrap log shows the App key")
	}
	for _, c := range calls {
		if strings.Contains(c, tokenARN) {
			t.Errorf("the GitHub node read the App key: %s", c)
		}
	}
	etc := copyOut(t, boot.ctr, "/etc/runfleet")
	checkMode(t, etc, "/etc/runfleet", os.ModeDir|0o700)
	checkMode(t, etc, "/etc/runfleet/config.toml", 0o600)
	checkMode(t, etc, "/etc/runfleet/join-token", 0o600)
	for name, f := range etc {
		if strings.Contains(string(f.data), "PRIVATE KEY") {
			t.Errorf("%s holds the App key", name)
		}
	}
	cfgPath := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfgPath, etc["/etc/runfleet/config.toml"].data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Read(cfgPath)
	if err != nil {
		t.Fatalf("the agent refuses the config the bootstrap wrote: %v", err)
	}
	if f.Concurrent != 3 || f.Node != instanceID || len(f.Runners) != 0 || len(f.GitHub) != 1 {
		t.Fatalf("config: %+v", f)
	}
	if g := f.GitHub[0]; g.Credentials != "fleet" || g.URL != "" || g.AppID != 0 || g.PrivateKeyFile != "" || g.Token != "" || g.TokenFile != "" ||
		g.RunnerImage != "runfleet/github-runner:test" || !slices.Equal(g.Labels, []string{"self-hosted", "linux"}) {
		t.Errorf("[[github]] table: %+v, want the fleet's credentials and nothing secret", g)
	}
	if _, err := os.Stat(filepath.Join(boot.dir, "runner-calls")); err == nil {
		t.Error("the bootstrap ran the agent (it registers itself as a service)")
	}
	checkUnit(t, boot)
	checkLogShipping(t, boot, calls)

	// An agent that does not match agent_sha256 (the baked one, then the download) is never
	// installed or run: the boot stops before any secret is read.
	bad := runNode(t, e, run{image: image, userData: renderNodeUserData(t, nodeVars("github", strings.Repeat("0", 64))), agent: agent, secrets: secrets})
	if bad.err == nil || !strings.Contains(bad.out, "does not match SHA-256") {
		t.Errorf("a boot with the wrong agent SHA-256 did not fail loudly (err %v)", bad.err)
	}
	if !slices.Contains(bad.calls(t), "GET /runner") {
		t.Error("the mismatching baked agent was kept instead of downloaded again")
	}
	for _, c := range bad.calls(t) {
		if strings.HasPrefix(c, "aws ") {
			t.Errorf("a boot with an unchecked agent read a secret: %s", c)
		}
	}
	if _, err := os.Stat(filepath.Join(bad.dir, "runner-calls")); err == nil {
		t.Error("the unchecked agent ran")
	}
}
