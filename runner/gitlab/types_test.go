package gitlab

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeJob(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
		check   func(*testing.T, *JobResponse)
	}{
		{"full payload", testJobJSON, false, func(t *testing.T, j *JobResponse) {
			if j.ID != 42 || j.Token != "glcbt-jobtoken" || !j.AllowGitFetch || j.JobInfo.ProjectFullPath != "g/p" ||
				j.GitInfo.Depth != 20 || len(j.GitInfo.Refspecs) != 1 || j.RunnerInfo.Timeout != 3600 ||
				j.Image == nil || j.Image.Name != "alpine:3" || len(j.Steps) != 1 || j.Steps[0].Script[0] != "echo hi" ||
				!j.Features.TraceSections || j.Features.TokenMaskPrefixes[0] != "glpat-" {
				t.Errorf("decoded %+v", j)
			}
			if !reflect.DeepEqual(j.Services[0].Aliases(), []string{"db", "pg"}) {
				t.Errorf("aliases %v", j.Services[0].Aliases())
			}
			if j.Variables.Get("SECRET") != "hunter2hunter2" || !reflect.DeepEqual(j.Variables.Masked(), []string{"hunter2hunter2"}) {
				t.Errorf("variables %+v", j.Variables)
			}
		}},
		{"null image", `{"id":1,"token":"t","image":null,"services":null}`, false, func(t *testing.T, j *JobResponse) {
			if j.Image != nil || j.Services != nil {
				t.Errorf("image %+v services %+v", j.Image, j.Services)
			}
		}},
		{"dependencies and cache", `{"id":1,"token":"t","dependencies":[{"id":9,"name":"b","token":"dt","artifacts_file":{"filename":"a.zip","size":12}}],
			"cache":[{"key":"k-protected","policy":"pull","paths":["x"],"fallback_keys":["f"]}],
			"artifacts":[{"name":"n","paths":["p"],"exclude":["e"],"when":"always","artifact_type":"archive","artifact_format":"zip","expire_in":"1d"}],
			"credentials":[{"type":"registry","url":"r","username":"u","password":"p"}],
			"hooks":[{"name":"pre_get_sources_script","script":["a"]}],
			"image":{"name":"i","entrypoint":[""],"ports":[{"number":80,"protocol":"http","name":"web"}],"pull_policy":["always"],"variables":[{"key":"K","value":"V"}]}}`,
			false, func(t *testing.T, j *JobResponse) {
				if j.Dependencies[0].ArtifactsFile.Size != 12 || j.Cache[0].FallbackKeys[0] != "f" || j.Artifacts[0].Exclude[0] != "e" ||
					j.Credentials[0].Password != "p" || j.Hooks[0].Name != "pre_get_sources_script" ||
					j.Image.Ports[0].Number != 80 || j.Image.Variables.Get("K") != "V" || j.Image.PullPolicy[0] != "always" {
					t.Errorf("decoded %+v", j)
				}
			}},
		{"unknown fields ignored", `{"id":1,"token":"t","brand_new":[1,2,{"x":null}]}`, false, nil},
		{"truncated", testJobJSON[:len(testJobJSON)/2], true, nil},
		{"empty", ``, true, nil},
		{"not an object", `[1,2]`, true, nil},
		{"id is a string", `{"id":"1","token":"t"}`, true, nil},
		{"steps wrong type", `{"id":1,"token":"t","steps":{"name":"script"}}`, true, nil},
		{"missing id", `{"token":"t"}`, true, nil},
		{"missing token", `{"id":3}`, true, nil},
		{"trailing garbage", `{"id":1,"token":"t"} {}`, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := DecodeJob(strings.NewReader(tc.in))
			if tc.wantErr {
				if err == nil || !errors.Is(err, ErrInvalidJob) {
					t.Fatalf("err = %v, want ErrInvalidJob", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, j)
			}
		})
	}
}

func TestAliases(t *testing.T) {
	for in, want := range map[string][]string{
		"":            nil,
		"db":          {"db"},
		"a,b":         {"a", "b"},
		" a , ,b, ":   {"a", "b"},
		"postgres,pg": {"postgres", "pg"},
	} {
		if got := (Image{Alias: in}).Aliases(); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}

func TestVariablesExpand(t *testing.T) {
	vs := Variables{
		{Key: "A", Value: "a"},
		{Key: "B", Value: "$A-b"},
		{Key: "RAW", Value: "$A-raw", Raw: true},
		{Key: "LOOP", Value: "x$LOOP"},
		{Key: "A2", Value: "old"},
		{Key: "A2", Value: "new"},
	}
	for in, want := range map[string]string{
		"plain":           "plain",
		"$A":              "a",
		"${A}x":           "ax",
		"$Ax":             "",
		"$B":              "a-b",
		"${RAW}":          "$A-raw",
		"$LOOP":           "x",
		"$A2":             "new",
		"cost $$5 and $":  "cost $5 and $",
		"${}":             "${}",
		"$1":              "$1",
		"${UNKNOWN}/path": "/path",
	} {
		if got := vs.Expand(in); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFailureReason(t *testing.T) {
	f := Features{FailureReasons: []string{FailureScript, FailureRunnerSystem}}
	for in, want := range map[string]string{
		FailureScript:              FailureScript,
		FailureImagePull:           FailureRunnerSystem,
		FailureJobExecutionTimeout: FailureUnknown,
		"":                         "",
	} {
		if got := f.FailureReason(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
	if got := (Features{}).FailureReason(FailureImagePull); got != FailureImagePull {
		t.Errorf("without a list: %q", got)
	}
}
