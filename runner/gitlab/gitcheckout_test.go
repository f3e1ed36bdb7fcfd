package gitlab

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/runner/config"
)

// TestHelperSpecSeesOnlyTheProjectAndTheStore: the sources helper mounts
// the project directory and the store (read-only) and nothing else, has
// no network, and carries neither job variables nor the job token.
func TestHelperSpecSeesOnlyTheProjectAndTheStore(t *testing.T) {
	tests := []struct {
		name      string
		docker    config.Docker
		wantImage string
		wantPull  executors.PullPolicy
	}{
		{"defaults", config.Docker{}, DefaultHelperImage, executors.PullIfNotPresent},
		{"configured image, pull never", config.Docker{HelperImage: "registry.example/helper:1", PullPolicy: "never",
			AllowedImages: []string{"registry.example/jobs/*"}}, "registry.example/helper:1", executors.PullNever},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &build{
				s: BuildSettings{Node: "n1", Runner: config.Runner{Name: "r", Token: "glrt-abcdefghijkl", BuildsDir: "/b", Docker: tt.docker}},
				job: &JobResponse{ID: 7, Token: "glcbt-secret", Variables: Variables{{Key: "SECRET", Value: "v"}},
					GitInfo: GitInfo{RepoURL: "https://gitlab-ci-token:glcbt-secret@gitlab.example/g/p.git"}},
				project: "g/p", hostDir: "/b/abcdefgh/0", slot: 0,
			}
			spec := b.helperSpec(b.sourceStore())
			want := []executors.Mount{
				{Source: "/b/abcdefgh/0/g/p", Target: "/builds/g/p"},
				{Source: "/b/.sources/abcdefgh/0/g/p.git", Target: helperStoreDir, ReadOnly: true},
			}
			if !slices.Equal(spec.Mounts, want) {
				t.Errorf("mounts %+v, want %+v", spec.Mounts, want)
			}
			if spec.Network != executors.NetworkNone || spec.Privileged || len(spec.Services) > 0 {
				t.Errorf("network %q, privileged %v, services %d", spec.Network, spec.Privileged, len(spec.Services))
			}
			if spec.Image.Name != tt.wantImage || spec.Image.PullPolicy != tt.wantPull {
				t.Errorf("image %+v", spec.Image)
			}
			if !slices.Equal(spec.AllowedImages, []string{tt.wantImage}) {
				t.Errorf("allowed images %v: the helper must be allowed by name", spec.AllowedImages)
			}
			env := strings.Join(append(spec.Env, helperEnv(b.projectDir())...), "\n")
			for name, v := range helperParams(helperJob{Remote: "https://gitlab.example/g/p.git", Sha: "abc"}) {
				env += "\n" + name + "=" + v
			}
			for _, leak := range []string{"glcbt-secret", "SECRET=", "glrt-"} {
				if strings.Contains(env, leak) {
					t.Errorf("the helper's environment holds %q:\n%s", leak, env)
				}
			}
			for _, want := range []string{"core.hooksPath", "core.fsmonitor", "protocol.allow", "GIT_CONFIG_NOSYSTEM=1"} {
				if !strings.Contains(env, want) {
					t.Errorf("the helper's environment lacks %s", want)
				}
			}
		})
	}
}

// TestJobMountsOnlyItsProject: the job container mounts its project and
// file-variable directories, never the slot directory.
func TestJobMountsOnlyItsProject(t *testing.T) {
	b := &build{project: "g/p", hostDir: "/b/abcdefgh/0"}
	want := []executors.Mount{
		{Source: "/b/abcdefgh/0/g/p", Target: "/builds/g/p"},
		{Source: "/b/abcdefgh/0/g/p.tmp", Target: "/builds/g/p.tmp"},
	}
	if got := b.jobMounts(); !slices.Equal(got, want) {
		t.Errorf("job mounts %+v, want %+v", got, want)
	}
}

// TestHelperParamsRefuseLineBreaks: the helper's script reads each
// parameter as one line; a value with a line break is refused, not cut.
func TestHelperParamsRefuseLineBreaks(t *testing.T) {
	tests := []struct {
		name    string
		job     helperJob
		wantErr bool
	}{
		{"plain", helperJob{Remote: "https://gitlab.example/g/p.git", Sha: "abc", CleanFlags: []string{"-ffdx", "-e", "x"}}, false},
		{"line break in the remote", helperJob{Remote: "https://gitlab.example/g/p.git\n[core]", Sha: "abc"}, true},
		{"carriage return in a clean flag", helperJob{Remote: "https://gitlab.example/g/p.git", Sha: "abc", CleanFlags: []string{"-x\r"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			err := writeHelperParams(dir, tt.job)
			if (err != nil) != tt.wantErr {
				t.Fatalf("writeHelperParams: %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			b, err := os.ReadFile(filepath.Join(dir, "clean"))
			if err != nil || string(b) != strings.Join(tt.job.CleanFlags, " ")+"\n" {
				t.Fatalf("clean parameter %q (%v)", b, err)
			}
		})
	}
}
