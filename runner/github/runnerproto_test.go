package github_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/githubtest"
	"github.com/runfleet/runfleet/runner/github/runnerversion"
)

// takeJob plays the stand-in runner's test-only protocol: connect, then
// take one job.
func takeJob(t *testing.T, srv *githubtest.Server, jit github.JITConfig) {
	t.Helper()
	token := jitToken(t, jit)
	base := srv.URL() + "/_runfleet_test/runners/" + strconv.FormatInt(jit.RunnerID, 10)
	for _, c := range []struct{ method, path string }{{"POST", "/session"}, {"GET", "/job?wait=5"}} {
		if code, msg := runnerCall(t, c.method, base+c.path, token, runnerversion.Default); code != http.StatusOK {
			t.Fatalf("%s %s: %d %s", c.method, c.path, code, msg)
		}
	}
}

// runnerCall makes one call of the test-only runner protocol as a runner
// of the given version ("" for none) and returns the status and message.
func runnerCall(t *testing.T, method, url, token, version string) (int, string) {
	t.Helper()
	if version != "" {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		url += sep + "runnerVersion=" + version
	}
	req, _ := http.NewRequestWithContext(t.Context(), method, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Message string }
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Message
}

func jitToken(t *testing.T, jit github.JITConfig) string {
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
	return cred.Data["token"]
}

// TestFakeRefusesOutdatedRunners: the strict fake answers a runner below
// its minimum version the way GitHub does (403, "Runner version vX is
// deprecated and cannot receive messages."), on every runner call.
func TestFakeRefusesOutdatedRunners(t *testing.T) {
	cases := []struct {
		name    string
		min     string // "" = the fake's default (runnerversion.Default)
		version string
		code    int
		msg     string
	}{
		{name: "current", version: runnerversion.Default, code: http.StatusOK},
		{name: "newer", version: "9.0.0", code: http.StatusOK},
		{name: "outdated", version: "2.327.1", code: http.StatusForbidden, msg: "Runner version v2.327.1 is deprecated and cannot receive messages."},
		{name: "raised minimum", min: "2.400.0", version: runnerversion.Default, code: http.StatusForbidden, msg: "Runner version v" + runnerversion.Default + " is deprecated and cannot receive messages."},
		{name: "no version", version: "", code: http.StatusBadRequest, msg: "runnerVersion is required"},
		{name: "malformed version", version: "latest", code: http.StatusBadRequest, msg: "runnerVersion is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := githubtest.New(t)
			srv.AddRepo("acme/app")
			if tc.min != "" {
				srv.SetMinRunnerVersion(tc.min)
			}
			c := newPATClient(t, srv, srv.URL()+"/acme", nil)
			jit, err := c.MintJIT(t.Context(), github.JITRequest{Name: "r-" + tc.name, RunnerGroupID: 1, Labels: []string{"self-hosted"}})
			if err != nil {
				t.Fatal(err)
			}
			base := srv.URL() + "/_runfleet_test/runners/" + strconv.FormatInt(jit.RunnerID, 10)
			for _, call := range []struct{ method, path string }{{"POST", "/session"}, {"GET", "/job?wait=0"}} {
				code, msg := runnerCall(t, call.method, base+call.path, jitToken(t, jit), tc.version)
				want := tc.code
				if call.method == "GET" && want == http.StatusOK {
					want = http.StatusNoContent // no job queued
				}
				if code != want || msg != tc.msg {
					t.Errorf("%s %s: %d %q, want %d %q", call.method, call.path, code, msg, want, tc.msg)
				}
			}
			if v, ok := runnerversion.ParseDeprecated(tc.msg); ok && !slices.Contains(srv.Refused(), v) {
				t.Errorf("refused versions %v, want %s", srv.Refused(), v)
			}
		})
	}
}

// TestLatestRunnerRelease: the client reads the latest actions/runner
// release through the configured base URL.
func TestLatestRunnerRelease(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddRepo("acme/app")
	published := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	srv.SetRunnerRelease("2.338.0", published)
	c := newPATClient(t, srv, srv.URL()+"/acme", nil)
	rel, err := c.LatestRunnerRelease(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rel.Version.String() != "2.338.0" || !rel.Published.Equal(published) || !strings.HasSuffix(rel.URL, "/tag/v2.338.0") {
		t.Errorf("release %+v", rel)
	}
	bad, err := github.NewClient(github.ClientOptions{URL: srv.URL() + "/acme", Auth: github.Auth{Token: "ghp_wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.LatestRunnerRelease(t.Context()); !errors.Is(err, github.ErrUnauthorized) {
		t.Errorf("bad credentials: %v, want ErrUnauthorized", err)
	}
}
