package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/policy"
)

var (
	spot = policy.Offering{InstanceType: "m7i.large", Zone: "a", Spot: true, PricePerHour: 0.04}
	od   = policy.Offering{InstanceType: "m7i.large", Zone: "a", PricePerHour: 0.10}
)

func pool(minIdle, slots int, delay time.Duration) policy.Pool {
	return policy.Pool{Name: "p", SlotsPerNode: slots, MaxNodes: 1000, MinIdleSlots: minIdle, ScaleDownDelay: delay, Offerings: []policy.Offering{spot, od}}
}

func TestLoadTrace(t *testing.T) {
	const csv = "job_id,queued_at_unix,started_at_unix,finished_at_unix,labels,extra\n" +
		"b,1000.5,1010,1070,x;y,z\n" +
		"a,900,905,965,,z\n" +
		"rerun,,905,965,,z\n" +
		"zero,900,905,905,,z\n"
	jobs, st, err := LoadTrace(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 4 || st.Kept != 2 || st.NoArrival != 1 || st.NoDuration != 1 {
		t.Errorf("stats %+v", st)
	}
	if jobs[0].ID != "a" || jobs[1].Duration != time.Minute || len(jobs[1].Labels) != 2 {
		t.Errorf("jobs %+v", jobs)
	}
	if _, _, err := LoadTrace(strings.NewReader("job_id,labels\n")); err == nil {
		t.Error("a header without times was accepted")
	}
}

func TestRunIdleBufferHidesBootTime(t *testing.T) {
	start := time.Unix(1_700_000_000, 0).UTC()
	var jobs []Job
	for i := range 20 {
		jobs = append(jobs, Job{ID: fmt.Sprint(i), Arrival: start.Add(time.Duration(i) * 5 * time.Minute), Duration: time.Minute})
	}
	cold := Run(jobs, policy.Policy{}, Config{Pool: pool(0, 1, 0), BootTime: 40 * time.Second})
	warm := Run(jobs, policy.Policy{}, Config{Pool: pool(1, 1, 10*time.Minute), BootTime: 40 * time.Second})
	t.Logf("cold: %v", cold)
	t.Logf("warm: %v", warm)
	if cold.QueueP50 < 40*time.Second {
		t.Errorf("cold fleet waited %v, less than a boot", cold.QueueP50)
	}
	if warm.QueueP95 > 10*time.Second || warm.ZeroWait < 0.9 {
		t.Errorf("an idle buffer did not hide boot time: %v", warm)
	}
	if warm.Cost <= cold.Cost {
		t.Errorf("the buffer was free? warm %.3f cold %.3f", warm.Cost, cold.Cost)
	}
}

func TestQueueAwareBeatsIdleOnlyOnBursts(t *testing.T) {
	start := time.Unix(1_700_000_000, 0).UTC()
	var jobs []Job
	for i := range 100 { // 100 jobs at once, 10 minutes each
		jobs = append(jobs, Job{ID: fmt.Sprint(i), Arrival: start, Duration: 10 * time.Minute})
	}
	cfg := Config{Pool: pool(2, 2, 5*time.Minute), BootTime: 30 * time.Second}
	ours := Run(jobs, policy.Policy{}, cfg)
	idleOnly := Run(jobs, IgnoreQueue{}, cfg)
	t.Logf("queue-aware: %v", ours)
	t.Logf("idle-only:   %v", idleOnly)
	if ours.QueueP95 >= idleOnly.QueueP95/2 {
		t.Errorf("queue-aware p95 %v not clearly better than idle-only %v", ours.QueueP95, idleOnly.QueueP95)
	}
}

// BenchmarkReplayTraces replays the real traces in ../shared/traces through
// our policy and two baselines, and reports queue delay and cost.
func BenchmarkReplayTraces(b *testing.B) {
	dir := filepath.Join("..", "..", "..", "shared", "traces")
	for _, name := range []string{"bitcoin_core_gha_jobs.csv", "vllm_buildkite_nightly_jobs.csv"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			b.Fatalf("trace %s: %v (shared/ must sit beside the repository)", name, err)
		}
		jobs, st, err := LoadTrace(f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: %+v", name, st)
		runs := []struct {
			name string
			p    Planner
			pool policy.Pool
		}{
			{"runfleet (queue + busy + idle 4, 2 slots/node, 10 min delay)", policy.Policy{}, pool(4, 2, 10*time.Minute)},
			{"idle-only (docker-autoscaler-like, idle 4)", IgnoreQueue{}, pool(4, 2, 10*time.Minute)},
			{"one VM per job, no buffer (tf-aws-github-runner-like)", policy.Policy{}, pool(0, 1, 0)},
		}
		for _, r := range runs {
			res := Run(jobs, r.p, Config{Pool: r.pool, BootTime: 45 * time.Second})
			b.Logf("%s | %s | %v", name, r.name, res)
		}
	}
}
