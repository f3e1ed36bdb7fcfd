package e2e

import (
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/github/scalesettest"
)

// TestGitHubScaleSetRateLimited: `runner run` with a [[github_scale_set]]
// table whose first JIT config is answered with a secondary rate limit
// (403, Retry-After: 2) makes no call with the credential — message polls
// included — before the wait has passed (the strict fake fails the test on
// any), then brings its idle runner up and runs a job.
func TestGitHubScaleSetRateLimited(t *testing.T) {
	fake := newScaleSetFake(t)
	fake.RateLimit(scalesettest.SecondaryLimit, 1, 2*time.Second, "generatejitconfig")
	dir := t.TempDir()
	node := nodeName(t)
	cfgPath, metrics := scaleSetAgentConfig(t, fake, dir, node, "limited-fleet", "")
	a := startAgentWith(t, cfgPath, node, dir, metrics)
	waitFor(t, time.Minute, "an idle runner online after the limit", func() bool {
		rs := fake.Runners()
		return len(rs) == 1 && rs[0].Online
	})
	id := fake.QueueJob(scalesettest.Job{Labels: []string{"limited-fleet"}, Steps: []string{"echo after the limit"}})
	waitFor(t, 2*time.Minute, "the job completed", func() bool {
		j, _ := fake.Job(id)
		return j.State == scalesettest.JobCompleted
	})
	if err := a.stop(time.Minute); err != nil {
		t.Fatalf("agent exit: %v\n%s", err, tail(a.out.String(), 4000))
	}
	if n := fake.Limited(); n != 1 {
		t.Errorf("%d calls answered with the limit, want 1 (the test proves nothing)", n)
	}
	if n := fake.EarlyCalls(); n != 0 {
		t.Errorf("%d calls made before the secondary limit's wait had passed: %v", n, fake.Violations())
	}
}
