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
