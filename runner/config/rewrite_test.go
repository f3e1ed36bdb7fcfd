package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestRewriteKeepsGitLabRunnerKeys(t *testing.T) {
	b, err := os.ReadFile("testdata/gitlab-runner/register-docker.toml")
	if err != nil {
		t.Fatal(err)
	}
	second := strings.Replace(strings.Replace(string(b[strings.Index(string(b), "[[runners]]"):]), `"node-1"`, `"node-2"`, 1),
		"glrt-t1_AbCdEfGhIjKlMnOpQrSt", "glrt-second", 1)
	p := writeFile(t, string(b)+"\n"+second)
	now := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)

	if err := SetRunnerToken(p, "glrt-t1_AbCdEfGhIjKlMnOpQrSt", "glrt-rotated", now, now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Runners[0]
	if r.Token != "glrt-rotated" || !r.TokenObtainedAt.Equal(now) || !r.TokenExpiresAt.Equal(now.Add(24*time.Hour)) || c.Runners[1].Token != "glrt-second" {
		t.Fatalf("after rotation: %+v", c.Runners)
	}
	// gitlab-runner's keys survive the rewrite, with their values.
	if got := strings.Join(warningKeys(c.Warnings), " "); got != "connection_max_age session_server" {
		t.Errorf("warnings after rewrite: %s", got)
	}
	text, _ := os.ReadFile(p)
	for _, want := range []string{"session_timeout = 1800", "network_mtu = 0", "MaxUploadedArchiveSize = 0", "token_obtained_at = 2026-02-01T12:00:00Z"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("rewritten file lacks %q:\n%s", want, text)
		}
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != FileMode {
		t.Errorf("mode %v", st.Mode())
	}
	if err := SetRunnerToken(p, "glrt-unknown", "x", now, time.Time{}); err != ErrRunnerNotFound {
		t.Errorf("unknown token: %v", err)
	}

	n, err := RemoveRunners(p, func(rf RunnerFile) bool { return rf.Name == "node-1" })
	if err != nil || n != 1 {
		t.Fatalf("remove: %d %v", n, err)
	}
	c, err = Load(p, noEnv)
	if err != nil || len(c.Runners) != 1 || c.Runners[0].Name != "node-2" || len(c.Warnings) != 2 {
		t.Fatalf("after remove: %+v %v", c, err)
	}
	if n, err := RemoveRunners(p, func(RunnerFile) bool { return false }); n != 0 || err != nil {
		t.Errorf("remove nothing: %d %v", n, err)
	}
}
