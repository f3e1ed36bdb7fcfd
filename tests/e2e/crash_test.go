package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab"
	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// crashKills is the goal: 20 SIGKILLs mid-job in a row.
const crashKills = 20

// TestCrashRecovery SIGKILLs the agent mid-job 20 times in a row (half of
// them while the script runs, half at varying points between the accept
// and the script), each time starting it again at once. Every killed job must be final on GitLab
// (failed, runner_system_failure, reported once, with its log and a
// closing line) within 60 s of the restart; nothing the killed agent
// started on the engine may be left 30 s after the restart; the journal
// is empty again; and after the last kill a job runs to success.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := newServer(t)
	tok := fmt.Sprintf("glrt-%020d", time.Now().UnixNano()%1e12*7919)
	srv.AddRunner(tok)
	dir := t.TempDir()
	node := nodeName(t)
	cfg, metrics := writeConfig(t, dir, node, srv, tok, agentConfig{Concurrent: 1})
	journalDir := filepath.Join(dir, "journal")

	a := startAgentWith(t, cfg, node, dir, metrics)
	var toFinal, toClean []time.Duration
	for i := range crashKills {
		marker := fmt.Sprintf("crash-job-%d-started", i)
		id := srv.Enqueue(gitlabtest.JobSpec{Script: []string{"echo " + marker, "sleep 300"}})
		// Odd kills land early, at varying points between the accept and
		// the script (preparing the containers, fetching the sources);
		// even ones while the script runs.
		early := i%2 == 1
		if early {
			waitFor(t, jobWait, fmt.Sprintf("kill %d: the agent to accept the job", i), func() bool { return srv.Job(id).Accepted })
			time.Sleep(time.Duration(i*97%700) * time.Millisecond)
		} else {
			waitFor(t, jobWait, "job "+marker+" to print its first line", func() bool {
				rec := srv.Job(id)
				if rec.State.Final() {
					t.Fatalf("kill %d: job ended before it could be killed: %s (%s)\nevents %q\n%s", i, rec.State, rec.FailureReason, rec.Events, rec.Trace)
				}
				return strings.Contains(string(rec.Trace), marker)
			})
			if n := journalRecords(t, journalDir); n != 1 {
				t.Fatalf("kill %d: %d journal records while one job runs, want 1", i, n)
			}
		}
		a.signal(syscall.SIGKILL)
		select {
		case <-a.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("kill %d: the agent did not die within 10s of SIGKILL", i)
		}
		if !early && len(leftovers(t, node)) == 0 {
			t.Fatalf("kill %d: the killed agent left no container behind: the test proves nothing", i)
		}
		restarted := time.Now()
		a = startAgentWith(t, cfg, node, dir, metrics)
		rec := srv.WaitFinal(t, id, 60*time.Second)
		toFinal = append(toFinal, time.Since(restarted))
		if rec.State != gitlabtest.StateFailed || rec.FailureReason != "runner_system_failure" {
			t.Errorf("kill %d: job %s (%s), want failed (runner_system_failure)", i, rec.State, rec.FailureReason)
		}
		checkReportedOnce(t, rec)
		log := string(rec.Trace)
		if !early && !strings.Contains(log, marker) || !strings.HasSuffix(log, gitlab.RestartNote) {
			t.Errorf("kill %d: log lacks the job's output or the closing line:\n%s", i, tail(log, 800))
		}
		var left []string
		for deadline := restarted.Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if left = leftovers(t, node); len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: 30s after the restart, the killed agent's objects are still there: %q", i, left)
			}
		}
		toClean = append(toClean, time.Since(restarted))
		waitFor(t, 10*time.Second, "the journal record to be deleted", func() bool { return journalRecords(t, journalDir) == 0 })
	}
	id := srv.Enqueue(gitlabtest.JobSpec{Script: []string{"echo after the crashes"}})
	rec := srv.WaitFinal(t, id, jobWait)
	if rec.State != gitlabtest.StateSuccess {
		t.Errorf("the job after %d kills: %s (%s)\n%s", crashKills, rec.State, rec.FailureReason, tail(string(rec.Trace), 1500))
	}
	checkReportedOnce(t, rec)
	if err := a.stop(time.Minute); err != nil {
		t.Errorf("agent exit: %v", err)
	}
	if left := leftovers(t, node); len(left) > 0 {
		t.Errorf("left after the agent stopped: %v", left)
	}
	checkViolations(t, srv)
	t.Logf("%d kills: restart → job final on GitLab: median %s, max %s; restart → nothing left: median %s, max %s",
		crashKills, median(toFinal), slices.Max(toFinal).Round(time.Millisecond), median(toClean), slices.Max(toClean).Round(time.Millisecond))
}

// journalRecords counts the agent's journal records.
func journalRecords(t *testing.T, dir string) int {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		st, err := os.Stat(n)
		if err == nil && st.Mode().Perm() != 0o600 {
			t.Errorf("journal record %s has mode %v, want 0600", n, st.Mode().Perm())
		}
	}
	return len(names)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Millisecond)
}
