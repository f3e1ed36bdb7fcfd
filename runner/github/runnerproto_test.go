package github_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/githubtest"
)

// takeJob plays the stand-in runner's test-only protocol: connect, then
// take one job.
func takeJob(t *testing.T, srv *githubtest.Server, jit github.JITConfig) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(jit.Encoded)
	if err != nil {
		t.Fatal(err)
	}
	var files map[string]string
	if err := json.Unmarshal(raw, &files); err != nil {
		t.Fatal(err)
	}
	b, _ := base64.StdEncoding.DecodeString(files[".credentials"])
	var cred struct{ Data map[string]string }
	if err := json.Unmarshal(b, &cred); err != nil {
		t.Fatal(err)
	}
	base := srv.URL() + "/_runfleet_test/runners/" + strconv.FormatInt(jit.RunnerID, 10)
	for _, c := range []struct{ method, path string }{{"POST", "/session"}, {"GET", "/job?wait=5"}} {
		req, _ := http.NewRequestWithContext(t.Context(), c.method, base+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+cred.Data["token"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %s", c.method, c.path, resp.Status)
		}
	}
}
