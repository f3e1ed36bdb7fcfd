package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/github/scalesettest"
)

// TestGitHubScaleSetCrash: an agent SIGKILLed while its scale-set runner
// waits for a job leaves the runner's registration and container; the
// restarted agent removes that registration exactly once (from its
// journal record) and reaps the container, then keeps a fresh idle runner
// that runs the next job. How long after the restart the killed agent's
// runner was gone is logged.
func TestGitHubScaleSetCrash(t *testing.T) {
	fake := newScaleSetFake(t)
	dir := t.TempDir()
	node := nodeName(t)
	cfgPath, metrics := scaleSetAgentConfig(t, fake, dir, node, "crash-fleet", "")
	jdir := filepath.Join(dir, "journal")
	a := startAgentWith(t, cfgPath, node, dir, metrics)
	var left scalesettest.Runner
	waitFor(t, time.Minute, "an idle runner online", func() bool {
		rs := fake.Runners()
		if len(rs) == 1 && rs[0].Online {
			left = rs[0]
			return true
		}
		return false
	})
	if n := journalRecords(t, jdir); n != 1 {
		t.Fatalf("the journal holds %d records while one runner waits, want 1", n)
	}
	a.signal(syscall.SIGKILL)
	waitDone(t, a.done, agentExitWait, "the SIGKILLed agent to exit")
	if n := runnerContainers(t, left.Name); n != 1 {
		t.Fatalf("the killed agent's runner has %d containers, want 1 (the test proves nothing)", n)
	}
	if fake.ExpireSessions() != 1 { // GitHub ends the dead listener's session
		t.Fatal("the killed agent held no session")
	}

	restarted := time.Now()
	b := startAgentWith(t, cfgPath, node, dir, metrics)
	waitFor(t, time.Minute, "the killed agent's runner registration removed", func() bool {
		for _, r := range fake.Runners() {
			if r.ID == left.ID {
				return false
			}
		}
		return true
	})
	waitFor(t, 30*time.Second, "the killed agent's runner container reaped", func() bool { return runnerContainers(t, left.Name) == 0 })
	gone := time.Since(restarted)
	waitFor(t, time.Minute, "a fresh idle runner", func() bool {
		rs := fake.Runners()
		return len(rs) == 1 && rs[0].Online && rs[0].Name != left.Name
	})
	id := fake.QueueJob(scalesettest.Job{Labels: []string{"crash-fleet"}, Steps: []string{"echo after the crash"}})
	var j scalesettest.JobStatus
	waitFor(t, 2*time.Minute, "the job after the crash completed", func() bool {
		j, _ = fake.Job(id)
		return j.State == scalesettest.JobCompleted
	})
	if j.Result != "succeeded" {
		t.Errorf("the job after the crash: %+v", j)
	}
	if err := b.stop(time.Minute); err != nil {
		t.Fatalf("agent exit: %v\n%s", err, tail(b.out.String(), 4000))
	}
	deletes := 0
	for _, r := range fake.Requests() {
		if r.Method == "DELETE" && strings.HasSuffix(r.Path, "/agents/"+strconv.Itoa(left.ID)) {
			deletes++
		}
	}
	if deletes != 1 {
		t.Errorf("the killed agent's runner registration was removed %d times, want once", deletes)
	}
	if n := journalRecords(t, jdir); n != 0 {
		t.Errorf("the journal holds %d records after a clean stop, want none", n)
	}
	if l := leftovers(t, node); len(l) != 0 {
		t.Errorf("left behind after shutdown: %v", l)
	}
	t.Logf("scale set: restart → the killed agent's registration removed and container reaped in %s", gone.Round(time.Millisecond))
}
