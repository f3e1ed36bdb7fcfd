package ciyaml

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const sample = `
variables:
  GLOBAL: g
default:
  image: runfleet/busybox:latest
  before_script: [echo before]
  timeout: 10 minutes
stages: [build, test]
.hidden:
  script: [echo hidden]
build:
  stage: build
  services:
    - name: runfleet/busybox:latest
      alias: web,www
  variables:
    LOCAL: l
    DESCRIBED: {value: v, description: d}
  script:
    - echo one
    - [echo two, echo three]
  after_script: echo after
  cache:
    key: deps
    paths: [vendor/]
    policy: pull-push
  artifacts:
    paths: [out/]
    exclude: ["out/*.log"]
  timeout: 1h 30m
  allow_failure: true
plain:
  image: {name: alpine, entrypoint: [""]}
  script: echo plain
extended:
  extends: .hidden
  script: echo x
`

func TestParse(t *testing.T) {
	j, err := Parse([]byte(sample), "build")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(j.Script, "|"); got != "echo one|echo two|echo three" {
		t.Errorf("script = %q", got)
	}
	if j.Image == nil || j.Image.Name != "runfleet/busybox:latest" || j.Stage != "build" || !j.AllowFailure {
		t.Errorf("job = %+v", j)
	}
	if len(j.BeforeScript) != 1 || len(j.AfterScript) != 1 || j.Timeout != 90*time.Minute {
		t.Errorf("before/after/timeout = %v %v %v", j.BeforeScript, j.AfterScript, j.Timeout)
	}
	if len(j.Services) != 1 || j.Services[0].Alias != "web,www" {
		t.Errorf("services = %+v", j.Services)
	}
	if len(j.Cache) != 1 || j.Cache[0].Key != "deps" || j.Cache[0].Paths[0] != "vendor/" {
		t.Errorf("cache = %+v", j.Cache)
	}
	want := []Variable{{"GLOBAL", "g"}, {"LOCAL", "l"}, {"DESCRIBED", "v"}}
	if len(j.Variables) != 3 || j.Variables[0] != want[0] || j.Variables[2] != want[2] {
		t.Errorf("variables = %+v", j.Variables)
	}
	p, err := Parse([]byte(sample), "plain")
	if err != nil {
		t.Fatal(err)
	}
	if p.Image.Name != "alpine" || len(p.Image.Entrypoint) != 1 || p.Timeout != 10*time.Minute {
		t.Errorf("plain = %+v", p)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, doc, job, want string }{
		{"missing job", sample, "nope", "not found"},
		{"hidden job", sample, ".hidden", "not found"},
		{"extends", sample, "extended", "extends"},
		{"malformed", "a: [", "a", "parse"},
		{"no script", "j:\n  image: x\n", "j", "no script"},
		{"bad timeout", "j:\n  script: x\n  timeout: soon\n", "j", "timeout"},
		{"scalar top", "hello", "j", "mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), tt.job)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	_, err := Parse([]byte(sample), "extended")
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("extends error is not ErrUnsupported: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"1h", time.Hour}, {"1h 30m", 90 * time.Minute}, {"3 hours", 3 * time.Hour},
		{"90 minutes", 90 * time.Minute}, {"45s", 45 * time.Second}, {"1 hour and 5 minutes", 65 * time.Minute},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "soon", "0s", "-5m"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
}
