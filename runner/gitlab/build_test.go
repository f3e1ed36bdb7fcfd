package gitlab

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestStepScriptRunsAndStopsAtFailure(t *testing.T) {
	tests := []struct {
		name     string
		lines    []string
		wantOut  []string
		notOut   []string
		wantExit int
	}{
		{"echoes commands", []string{"echo one", "echo 'two'"}, []string{"$ echo one", "one\n", "two\n"}, nil, 0},
		{"stops at failure", []string{"echo a", "exit 7", "echo never-printed"}, []string{"a\n"}, []string{"never-printed\n"}, 7},
		{"pipefail", []string{"false | true", "echo after"}, nil, []string{"after\n"}, 1},
		{"quotes survive", []string{`printf '%s\n' "it's \"quoted\""`}, []string{`it's "quoted"`}, nil, 0},
		{"multi-line command", []string{"if true; then\n  echo inside\nfi"}, []string{"inside\n", "collapsed multi-line"}, nil, 0},
	}
	// The job image's shell: busybox ash (Debian's busybox-static).
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox not found (apt-get install busybox-static): %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(busybox, "sh", "-c", stepScript(tt.lines))
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantExit {
				t.Errorf("exit = %d, want %d; out:\n%s", code, tt.wantExit, out)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notOut {
				if strings.Contains(string(out), w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestSplitCredentials(t *testing.T) {
	remote, header, err := splitCredentials("http://gitlab-ci-token:glcbt-abc@127.0.0.1:8080/group/project.git")
	if err != nil {
		t.Fatal(err)
	}
	if remote != "http://127.0.0.1:8080/group/project.git" || strings.Contains(remote, "glcbt") {
		t.Errorf("remote = %q", remote)
	}
	if header != "Authorization: Basic Z2l0bGFiLWNpLXRva2VuOmdsY2J0LWFiYw==" {
		t.Errorf("header = %q", header)
	}
	if _, _, err := splitCredentials("http://[::1"); err == nil {
		t.Error("bad URL accepted")
	}
}

func TestServiceAliases(t *testing.T) {
	tests := []struct {
		svc  Image
		want []string
	}{
		{Image{Name: "postgres:16", Alias: "db, pg"}, []string{"db", "pg"}},
		{Image{Name: "registry.example.com:5000/group/redis:7"}, []string{"registry.example.com:5000__group__redis", "registry.example.com:5000-group-redis"}},
		{Image{Name: "mysql@sha256:abc"}, []string{"mysql", "mysql"}},
	}
	for _, tt := range tests {
		if got := serviceAliases(tt.svc); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("serviceAliases(%+v) = %v, want %v", tt.svc, got, tt.want)
		}
	}
}

func TestExpandVariables(t *testing.T) {
	vars := Variables{
		{Key: "A", Value: "a"},
		{Key: "B", Value: "$A-b"},
		{Key: "RAW", Value: "$A", Raw: true},
		{Key: "F", Value: "$A", File: true},
		{Key: "A", Value: "a2"}, // later wins
		{Key: "S", Value: "hidden", Masked: true},
	}
	got := expandVariables(vars)
	want := map[string]string{"A": "a2", "B": "a2-b", "RAW": "$A", "F": "$A", "S": "hidden"}
	if len(got) != len(want) {
		t.Fatalf("got %d variables, want %d: %+v", len(got), len(want), got)
	}
	for _, v := range got {
		if want[v.Key] != v.Value {
			t.Errorf("%s = %q, want %q", v.Key, v.Value, want[v.Key])
		}
	}
}

func TestWhenMatches(t *testing.T) {
	for _, tt := range []struct {
		when   string
		failed bool
		want   bool
	}{{"", false, true}, {"on_success", true, false}, {"on_failure", true, true}, {"on_failure", false, false}, {"always", true, true}} {
		if got := whenMatches(tt.when, tt.failed); got != tt.want {
			t.Errorf("whenMatches(%q, %v) = %v", tt.when, tt.failed, got)
		}
	}
}
