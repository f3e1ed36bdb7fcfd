package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// hostileVector is one way a job can try to make the agent run its code
// when the next job of the same project is prepared on the same slot.
type hostileVector struct {
	name string
	// files are extra files of the repository (beside README.md).
	files map[string]string
	// plant is job 1's script, run in the project directory. In it
	// PAYLOAD is a command that touches a marker on the host (only there
	// does its directory exist) and one in .git (only in a container), and
	// EVIL is a git directory on the host armed with hooks and a config
	// that touch host markers.
	plant []string
}

// hostileVectors are the vectors of issue 13, one row each.
var hostileVectors = []hostileVector{
	{name: "hook-post-checkout", plant: hook("post-checkout")},
	{name: "hook-post-merge", plant: hook("post-merge")},
	{name: "hook-reference-transaction", plant: hook("reference-transaction")},
	{name: "core-fsmonitor", plant: gitConfig(`[core]\n\tfsmonitor = PAYLOAD\n`)},
	{name: "core-sshCommand", plant: gitConfig(`[core]\n\tsshCommand = PAYLOAD\n[remote "origin"]\n\turl = ssh://git@gitlab.invalid/x.git\n`)},
	{name: "core-pager", plant: gitConfig(`[core]\n\tpager = PAYLOAD\n[pager]\n\tfetch = true\n\tcheckout = true\n`)},
	{name: "core-editor", plant: gitConfig(`[core]\n\teditor = PAYLOAD\n[sequence]\n\teditor = PAYLOAD\n`)},
	{name: "credential-helper", plant: gitConfig(`[credential]\n\thelper = !PAYLOAD\n`)},
	{
		name:  "filter-smudge",
		files: map[string]string{".gitattributes": "* filter=evil\n"},
		plant: append(gitConfig(`[filter "evil"]\n\tsmudge = PAYLOAD\n\tclean = PAYLOAD\n\tprocess = PAYLOAD\n\trequired = true\n`),
			`mkdir -p .git/info`, `printf '* filter=evil\n' > .git/info/attributes`),
	},
	{name: "include-path", plant: []string{
		`printf '[core]\n\tfsmonitor = PAYLOAD\n[core]\n\thooksPath = EVIL/hooks\n' > .git/evil.cfg`,
		`printf '[include]\n\tpath = evil.cfg\n[include]\n\tpath = EVIL/config\n' >> .git/config`,
	}},
	{name: "includeIf", plant: []string{
		`printf '[core]\n\tfsmonitor = PAYLOAD\n' > .git/evil.cfg`,
		`printf '[includeIf "gitdir:/"]\n\tpath = evil.cfg\n[includeIf "onbranch:*"]\n\tpath = EVIL/config\n' >> .git/config`,
	}},
	{name: "gitfile-etc", plant: []string{`rm -rf .git`, `printf 'gitdir: /etc\n' > .git`}},
	{name: "gitfile-evil", plant: []string{`rm -rf .git`, `printf 'gitdir: EVIL\n' > .git`}},
	{name: "git-symlink", plant: []string{`rm -rf .git`, `ln -s EVIL .git`}},
	{name: "git-config-symlink", plant: []string{`rm -f .git/config`, `ln -s EVIL/config .git/config`}},
	{name: "git-hooks-symlink", plant: []string{`rm -rf .git/hooks`, `ln -s EVIL/hooks .git/hooks`}},
	{
		name:  "submodule-config",
		files: map[string]string{".gitmodules": "[submodule \"sub\"]\n\tpath = sub\n\turl = ./sub.git\n"},
		plant: append(gitConfig(`[submodule "sub"]\n\tupdate = !PAYLOAD\n\turl = EVIL\n[submodule]\n\trecurse = true\n`),
			`mkdir -p .git/modules/sub/hooks`,
			`printf '[core]\n\tfsmonitor = PAYLOAD\n\tworktree = ../../../sub\n' > .git/modules/sub/config`,
			`printf '#!/bin/sh\nPAYLOAD\n' > .git/modules/sub/hooks/post-checkout`,
			`chmod +x .git/modules/sub/hooks/post-checkout`),
	},
	{name: "url-insteadOf-file", plant: gitConfig(`[url "EVILREMOTE"]\n\tinsteadOf = http://\n\tinsteadOf = /runfleet/store\n[protocol "file"]\n\tallow = always\n`)},
	{name: "alternates", plant: []string{`mkdir -p .git/objects/info`, `printf 'EVILREMOTE/objects\n' > .git/objects/info/alternates`}},
	// What a helper killed mid-checkout (agent SIGKILL) leaves behind.
	{name: "stale-locks", plant: []string{`touch .git/config.lock .git/index.lock .git/HEAD.lock`, `mkdir -p .git/refs/heads && touch .git/refs/heads/main.lock`}},
	{name: "file-variable-symlink", plant: []string{`rm -rf ../$(basename $PWD).tmp/* && ln -s EVILFILE ../$(basename $PWD).tmp/CONF || true`}},
}

// hook plants an executable hook running PAYLOAD.
func hook(name string) []string {
	return []string{
		`mkdir -p .git/hooks`,
		`printf '#!/bin/sh\nPAYLOAD\n' > .git/hooks/` + name,
		`chmod +x .git/hooks/` + name,
	}
}

// gitConfig appends a section to .git/config.
func gitConfig(section string) []string {
	return []string{`printf '` + section + `' >> .git/config`}
}

// hostileHost is what the test prepares on the host: the marker directory
// and the armed git directories a job points the agent at.
type hostileHost struct {
	markers    string // only ever written by code running on the host
	evil       string // a git directory whose hooks and config touch markers
	evilRemote string // a repository with other contents
	evilFile   string // a host file a job links a file variable to
}

func newHostileHost(t *testing.T) hostileHost {
	t.Helper()
	dir := t.TempDir()
	h := hostileHost{
		markers:    filepath.Join(dir, "markers"),
		evil:       filepath.Join(dir, "evil", ".git"),
		evilRemote: filepath.Join(dir, "evil-remote.git"),
		evilFile:   filepath.Join(dir, "host-file"),
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.invalid", "GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.invalid")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if err := os.MkdirAll(h.markers, 0o755); err != nil {
		t.Fatal(err)
	}
	git("init", "-q", filepath.Dir(h.evil))
	if err := os.MkdirAll(filepath.Join(h.evil, "hooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"post-checkout", "post-merge", "reference-transaction", "pre-auto-gc", "fsmonitor-watchman"} {
		body := fmt.Sprintf("#!/bin/sh\ntouch %s/evil-hook-%s\n", h.markers, name)
		if err := os.WriteFile(filepath.Join(h.evil, "hooks", name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf("[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tfsmonitor = touch %[1]s/evil-fsmonitor\n\tsshCommand = touch %[1]s/evil-ssh\n[credential]\n\thelper = !touch %[1]s/evil-credential\n", h.markers)
	if err := os.WriteFile(filepath.Join(h.evil, "config"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "README.md"), []byte("EVIL CONTENTS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("init", "-q", "--bare", h.evilRemote)
	git("--git-dir="+h.evilRemote, "--work-tree="+work, "add", "-A")
	git("--git-dir="+h.evilRemote, "--work-tree="+work, "commit", "-q", "-m", "evil")
	if err := os.WriteFile(h.evilFile, []byte("host file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return h
}

// expand fills PAYLOAD, EVIL, EVILREMOTE and EVILFILE into a plant line.
// PAYLOAD touches <markers>/<vector> (exists on the host only) and
// <project>/.git/pwned-<vector> (exists in containers only).
func (h hostileHost) expand(line, vector, projectDir string) string {
	payload := fmt.Sprintf("touch %s/%s %s/.git/pwned-%s", h.markers, vector, projectDir, vector)
	return strings.NewReplacer("PAYLOAD", payload, "EVILREMOTE", h.evilRemote, "EVILFILE", h.evilFile, "EVIL", h.evil).Replace(line)
}

// hostSnapshot is what the suite checks on the host after each vector.
func (h hostileHost) snapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	entries, err := os.ReadDir(h.markers)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fmt.Fprintf(&b, "marker %s\n", e.Name())
	}
	for _, p := range []string{"/etc/HEAD", "/etc/index", "/etc/FETCH_HEAD", "/etc/objects", "/etc/refs", "/etc/hooks"} {
		if _, err := os.Lstat(p); err == nil {
			fmt.Fprintf(&b, "git state in /etc: %s\n", p)
		}
	}
	for _, p := range []string{filepath.Join(h.evil, "config"), h.evilFile} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s: %q\n", filepath.Base(p), data)
	}
	return b.String()
}

// runHostileSources runs every vector through one agent with one slot:
// job 1 plants, job 2 of the same project is prepared on the same slot.
// Each row checks that nothing ran on the host (no marker, no git state
// in /etc, the armed files unchanged), that nothing ran in the sources
// helper either (no pwned file in .git), and that job 2 got the right
// commit and contents.
func runHostileSources(t *testing.T, srv *gitlabtest.Server) {
	h := newHostileHost(t)
	before := h.snapshot(t)
	if strings.Contains(before, "/etc") {
		t.Fatalf("the host already has git state in /etc:\n%s", before)
	}
	for _, v := range hostileVectors {
		t.Run(v.name, func(t *testing.T) {
			project := "hostile/" + strings.ToLower(v.name)
			files := map[string]string{"README.md": "good contents of " + v.name + "\n"}
			for k, c := range v.files {
				files[k] = c
			}
			sha := srv.AddRepo(t, project, files)
			projectDir := "/builds/" + project
			plant := make([]string, len(v.plant))
			for i, l := range v.plant {
				plant[i] = h.expand(l, v.name, projectDir)
			}
			plant = append(plant, "echo planted")
			id1 := srv.Enqueue(gitlabtest.JobSpec{ProjectPath: project, Script: plant})
			rec1 := srv.WaitFinal(t, id1, jobWait)
			if rec1.State != gitlabtest.StateSuccess || !strings.Contains(string(rec1.Trace), "planted") {
				t.Fatalf("job 1 (plant) = %s (%s); log:\n%s", rec1.State, rec1.FailureReason, tail(string(rec1.Trace), 3000))
			}
			id2 := srv.Enqueue(gitlabtest.JobSpec{
				ProjectPath: project,
				Variables:   []gitlabtest.Variable{{Key: "CONF", Value: "job 2 file variable\n", File: true}},
				Script: []string{
					`echo "content=$(cat README.md)"`,
					`echo "head=$(cat .git/HEAD)"`,
					`echo "pwned-files=$(ls -a .git | grep -c pwned)"`,
					`echo "conf=$(cat "$CONF")"`,
					`test -z "$(ls -a /builds/hostile | grep -vx -e . -e .. -e "$(basename $PWD)" -e "$(basename $PWD).tmp")" && echo only-own-project`,
				},
			})
			rec2 := srv.WaitFinal(t, id2, jobWait)
			log := string(rec2.Trace)
			if after := h.snapshot(t); after != before {
				t.Errorf("the host changed: code ran outside the containers\nbefore:\n%safter:\n%s", before, after)
			}
			if rec2.State != gitlabtest.StateSuccess {
				t.Fatalf("job 2 = %s (%s); log:\n%s", rec2.State, rec2.FailureReason, tail(log, 3000))
			}
			checkReportedOnce(t, rec2)
			mustContain(t, log, "content=good contents of "+v.name, "head="+sha, "pwned-files=0", "conf=job 2 file variable", "only-own-project")
			mustNotContain(t, log, "EVIL CONTENTS")
		})
	}
	checkViolations(t, srv)
}

// TestHostileSourcesDocker: the hostile-sources suite on the Docker executor.
func TestHostileSourcesDocker(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(time.Second))
	srv.AddRepo(t, "hostile/other", map[string]string{"README.md": "another project\n"})
	// allowed_images holds the job image only: the sources helper is the
	// agent's and runs all the same.
	startAgent(t, srv, agentConfig{Concurrent: 1, Limit: 1, Extra: `allowed_images = ["runfleet/busybox:latest"]`})
	runHostileSources(t, srv)
}

// TestHostileSourcesContainerd: the hostile-sources suite on the containerd
// executor.
func TestHostileSourcesContainerd(t *testing.T) {
	t.Parallel()
	importIntoContainerd(t)
	srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(time.Second))
	tok := fmt.Sprintf("glrt-%020d", time.Now().UnixNano()%1e12*7919)
	srv.AddRunner(tok)
	dir := t.TempDir()
	node := nodeName(t)
	metrics := freePort(t)
	cfg := containerdAgentConfig("e2e-hostile", srv.URL(), tok, node, metrics, dir, ctrdNamespace) // helper_image_test.go
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startAgentWith(t, path, node, dir, metrics)
	runHostileSources(t, srv)
}
