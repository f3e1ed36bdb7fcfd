package docker

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

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
