package docker

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

func TestStepCmd(t *testing.T) {
	for _, tc := range []struct {
		step executors.Step
		want []string
	}{
		{executors.Step{Script: "echo x"}, []string{"sh", "-c", "exec 2>&1\necho x"}},
		{executors.Step{Shell: []string{"/bin/bash", "-ec"}, Script: "x"}, []string{"/bin/bash", "-ec", "exec 2>&1\nx"}},
		{executors.Step{Shell: []string{"pwsh", "-Command"}, Script: "x"}, []string{"pwsh", "-Command", "x"}},
		{executors.Step{Shell: []string{"python3", "-c"}, Script: "x"}, []string{"python3", "-c", "x"}},
	} {
		if got := stepCmd(tc.step); !slices.Equal(got, tc.want) {
			t.Errorf("stepCmd(%+v) = %q, want %q", tc.step, got, tc.want)
		}
	}
}

func TestResources(t *testing.T) {
	for _, tc := range []struct {
		in       executors.Resources
		swap     int64
		pidsNull bool
	}{
		{executors.Resources{}, 0, true},
		{executors.Resources{Memory: 100}, 100, true}, // contract: 0 swap = same as Memory
		{executors.Resources{Memory: 100, MemorySwap: -1}, -1, true},
		{executors.Resources{Memory: 100, MemorySwap: 300, PidsLimit: 64}, 300, false},
	} {
		got := resources(tc.in)
		if got.MemorySwap != tc.swap || (got.PidsLimit == nil) != tc.pidsNull {
			t.Errorf("resources(%+v): swap %d pids %v", tc.in, got.MemorySwap, got.PidsLimit)
		}
	}
}

func TestEncodeAuth(t *testing.T) {
	s, err := encodeAuth(&executors.RegistryAuth{ServerAddress: "r.example", Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("not base64url: %v", err)
	}
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["username"] != "u" || got["password"] != "p" || got["serveraddress"] != "r.example" {
		t.Errorf("decoded %v", got)
	}
	if s, _ := encodeAuth(nil); s != "" {
		t.Errorf("nil auth encoded as %q", s)
	}
}
