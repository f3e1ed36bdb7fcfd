package gitlab

import (
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/runner/config"
)

func TestRunnerHooksInTheStepShell(t *testing.T) {
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox not found (apt-get install busybox-static): %v", err)
	}
	r := config.Runner{PreBuildScript: "echo pre-build; X=set-by-pre", PostBuildScript: "echo post-build sees $X"}
	tests := []struct {
		name    string
		step    Step
		want    string // the outputs, in order
		notWant string
	}{
		{"around the script, same shell", Step{Name: StepScript, Script: []string{"echo before_script", "echo script"}},
			"pre-build|before_script|script|post-build sees set-by-pre", ""},
		{"post_build not after a failure", Step{Name: StepScript, Script: []string{"exit 4"}}, "pre-build", "post-build"},
		{"after_script gets neither", Step{Name: StepAfterScript, Script: []string{"echo after"}}, "after", "pre-build"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := exec.Command(busybox, "sh", "-c", stepScript(withBuildHooks(r, tt.step))).CombinedOutput()
			var got []string
			for _, l := range strings.Split(string(out), "\n") {
				if l != "" && !strings.Contains(l, "$ ") {
					got = append(got, l)
				}
			}
			if strings.Join(got, "|") != tt.want {
				t.Errorf("output %q, want %q\n%s", strings.Join(got, "|"), tt.want, out)
			}
			if tt.notWant != "" && strings.Contains(string(out), tt.notWant+" ") {
				t.Errorf("output has %q:\n%s", tt.notWant, out)
			}
		})
	}
}

func TestGetSourcesHookOrder(t *testing.T) {
	r := config.Runner{PreGetSourcesScript: "runner-pre", PostGetSourcesScript: "runner-post"}
	hooks := []Hook{{Name: "pre_get_sources_script", Script: []string{"job-pre"}}, {Name: "post_get_sources_script", Script: []string{"job-post"}}}
	if got := strings.Join(hookScript(r, hooks, "pre_get_sources_script"), ","); got != "runner-pre,job-pre" {
		t.Errorf("pre = %s", got)
	}
	if got := strings.Join(hookScript(r, hooks, "post_get_sources_script"), ","); got != "job-post,runner-post" {
		t.Errorf("post = %s", got)
	}
	if !hasContainerHooks(r, nil) || hasContainerHooks(config.Runner{}, nil) {
		t.Error("hasContainerHooks")
	}
}

func TestRunnerEnvironmentIsOverriddenByJobVariables(t *testing.T) {
	r := config.Runner{Environment: []string{"GIT_DEPTH=5", "FROM_RUNNER=r", "SHARED=runner"}}
	vars := expandVariables(append(runnerVariables(r), Variables{{Key: "SHARED", Value: "job"}, {Key: "REF", Value: "$FROM_RUNNER-x"}}...))
	for k, want := range map[string]string{"GIT_DEPTH": "5", "SHARED": "job", "REF": "r-x"} {
		if got := lookup(vars, k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestCloneURL(t *testing.T) {
	info := GitInfo{RepoURL: "https://gitlab-ci-token:tok@gitlab.example.com/g/p.git", Sha: "abc"}
	if got := cloneInfo(config.Runner{}, info, "g/p", "tok"); got.RepoURL != info.RepoURL {
		t.Errorf("without clone_url: %s", got.RepoURL)
	}
	u, _ := url.Parse("http://192.168.1.23/gitlab")
	got := cloneInfo(config.Runner{CloneURL: u}, info, "g/p", "tok")
	if got.RepoURL != "http://gitlab-ci-token:tok@192.168.1.23/gitlab/g/p.git" || got.Sha != "abc" {
		t.Errorf("with clone_url: %+v", got)
	}
	remote, header, err := splitCredentials(got.RepoURL)
	if err != nil || remote != "http://192.168.1.23/gitlab/g/p.git" || !strings.HasPrefix(header, "Authorization: Basic ") {
		t.Errorf("split: %s %s %v", remote, header, err)
	}
	if u.User != nil {
		t.Error("the runner's clone_url was modified")
	}
}

func TestGitTLSEnv(t *testing.T) {
	if got := strings.Join(gitTLS{CAFile: "/ca.pem"}.env(), " "); got != "GIT_SSL_CAINFO=/ca.pem" {
		t.Errorf("env = %s", got)
	}
	if len(gitTLS{}.env()) != 0 {
		t.Error("empty TLS adds variables")
	}
}
