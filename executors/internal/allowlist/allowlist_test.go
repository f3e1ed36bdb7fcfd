package allowlist

import (
	"errors"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

func TestCheckAllowed(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		image    string
		ok       bool
	}{
		{nil, "anything:1", true},
		{[]string{"runfleet/*"}, "runfleet/busybox:latest", true},
		{[]string{"runfleet/*"}, "runfleet/a/b", false},
		{[]string{"runfleet/**"}, "runfleet/a/b:1", true},
		{[]string{"busybox:*"}, "busybox", true}, // familiar form gains ":latest"
		{[]string{"docker.io/library/*"}, "alpine:3", true},
		{[]string{"registry.example.com/**"}, "alpine:3", false},
		{[]string{"golang:1.2?"}, "golang:1.22", true},
		{[]string{"golang:1.2?"}, "golang:1.3", false},
		{[]string{"a.b/c"}, "aXb/c", false}, // dots are literal
	} {
		pats, err := Compile(tc.patterns)
		if err != nil {
			t.Fatalf("%q: %v", tc.patterns, err)
		}
		err = Check("docker", pats, tc.image)
		if (err == nil) != tc.ok {
			t.Errorf("patterns %q, image %q: err %v, want allowed=%t", tc.patterns, tc.image, err, tc.ok)
		}
		if err != nil && !errors.Is(err, executors.ErrImageNotAllowed) {
			t.Errorf("error %v does not wrap ErrImageNotAllowed", err)
		}
	}
	if _, err := Compile([]string{""}); err == nil {
		t.Error("empty pattern accepted")
	}
}

// TestCheckSpec: with one executor shared by runners, a spec's own
// allowed_images applies on top of the executor's, to services too.
func TestCheckSpec(t *testing.T) {
	own, err := Compile([]string{"runfleet/**"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		own     []Pattern
		spec    executors.Spec
		allowed bool
	}{
		{"no lists", nil, executors.Spec{Image: executors.Image{Name: "alpine"}}, true},
		{"spec list allows", nil, executors.Spec{Image: executors.Image{Name: "alpine:3"}, AllowedImages: []string{"alpine:*"}}, true},
		{"spec list refuses", nil, executors.Spec{Image: executors.Image{Name: "debian"}, AllowedImages: []string{"alpine:*"}}, false},
		{"spec list refuses a service", nil, executors.Spec{Image: executors.Image{Name: "alpine"}, AllowedImages: []string{"alpine:*"},
			Services: []executors.Service{{Image: executors.Image{Name: "postgres"}}}}, false},
		{"both lists must allow", own, executors.Spec{Image: executors.Image{Name: "alpine"}, AllowedImages: []string{"alpine:*"}}, false},
		{"both allow", own, executors.Spec{Image: executors.Image{Name: "runfleet/busybox"}, AllowedImages: []string{"runfleet/*"}}, true},
	} {
		err := CheckSpec("docker", tc.own, tc.spec)
		if (err == nil) != tc.allowed || (err != nil && !errors.Is(err, executors.ErrImageNotAllowed)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if err := CheckSpec("docker", nil, executors.Spec{Image: executors.Image{Name: "a"}, AllowedImages: []string{""}}); err == nil {
		t.Error("an empty pattern was accepted")
	}
}
