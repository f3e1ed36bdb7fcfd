package sim

import (
	"fmt"
	"os"
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
	const runs = "job_id,queued_at_unix,started_at_unix,finished_at_unix,labels,repo,run_id,workflow,run_created_at_unix\n" +
		"a,1000,1000,1060,,org/app,7,ci,990\n" +
		"b,1000,1000,1060,,org/app,7,ci,1010\n"
	jobs, _, err = LoadTrace(strings.NewReader(runs))
	if err != nil {
		t.Fatal(err)
	}
	if r := jobs[0].Run; r.ID != "7" || r.Repo != "org/app" || r.Workflow != "ci" || r.Created.Unix() != 990 || jobs[1].Run.Created.Unix() != 1000 {
		t.Errorf("runs %+v %+v (a run created after its job queued is taken as created then)", jobs[0].Run, jobs[1].Run)
	}
	const buildkite = "job_id,queued_at_unix,started_at_unix,finished_at_unix,labels,repo,scheduled_at_unix,pipeline,build_number\n" +
		"a,1000,1000,1060,queue=gpu,org/llm,900,nightly,42\n"
	jobs, _, err = LoadTrace(strings.NewReader(buildkite))
	if err != nil {
		t.Fatal(err)
	}
	if r := jobs[0].Run; r.ID != "nightly#42" || r.Workflow != "nightly" || r.Created.Unix() != 900 {
		t.Errorf("buildkite run %+v", r)
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

func loadShipped(t testing.TB) []Job { return loadTrace(t, shippedTrace) }

func loadTrace(t testing.TB, path string) []Job {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	jobs, _, err := LoadTrace(f)
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

func testWorld(seed uint64) WorldConfig {
	return WorldConfig{Seed: seed, Boot: BootModel{Median: 30 * time.Second, Sigma: 0.2}, InterruptionRate: 0.02, CapacityFailureRate: 0.05}
}

func TestCompareDeterministic(t *testing.T) {
	jobs := loadShipped(t)
	a := Compare(jobs, Scenario{World: testWorld(7)})
	b := Compare(jobs, Scenario{World: testWorld(7)})
	c := Compare(jobs, Scenario{World: testWorld(8)})
	for i := range a {
		if a[i].String() != b[i].String() {
			t.Errorf("%s: same seed, different results:\n%v\n%v", a[i].Name, a[i], b[i])
		}
	}
	same := true
	for i := range a {
		same = same && a[i].String() == c[i].String()
	}
	if same {
		t.Error("another seed changed nothing")
	}
	names := []string{"runfleet", "warm-idle", "static-peak", "vm-per-job", "idle-count"}
	for i, r := range a {
		if r.Name != names[i] || r.Jobs != len(jobs) || r.CostRatio < 1 || r.IdleRatio < 0 || r.IdleRatio > 1 {
			t.Errorf("result %d: %+v", i, r)
		}
		t.Logf("%-12s %v", r.Name, r)
	}
}

func TestBaselinesBehave(t *testing.T) {
	jobs := loadShipped(t)
	res := Compare(jobs, Scenario{World: testWorld(1)})
	by := map[string]Result{}
	for _, r := range res {
		by[r.Name] = r
	}
	// A fleet sized for the peak never makes anyone wait long but costs
	// a multiple of the floor; one VM per job pays a boot for every job.
	if s := by["static-peak"]; s.P95WaitS > 1 || s.CostRatio < 2 {
		t.Errorf("static-peak %v", s)
	}
	if v := by["vm-per-job"]; v.P50WaitS < 20 || v.Launches < len(jobs) {
		t.Errorf("vm-per-job %v", v)
	}
	// runfleet hides most boots (its idle buffer and warm pool cost a
	// little), far below a fleet sized for the peak.
	if r, v, s := by["runfleet"], by["vm-per-job"], by["static-peak"]; r.P95WaitS >= v.P95WaitS/2 || r.CostRatio >= s.CostRatio/2 {
		t.Errorf("runfleet %v\nvm-per-job %v\nstatic-peak %v", r, v, s)
	}
}

func TestInterruptionsRequeueJobs(t *testing.T) {
	start := time.Unix(1_700_000_000, 0).UTC()
	var jobs []Job
	for i := range 40 { // long jobs on spot only: some get reclaimed
		jobs = append(jobs, Job{ID: fmt.Sprint(i), Arrival: start.Add(time.Duration(i) * time.Minute), Duration: 3 * time.Hour})
	}
	p := pool(0, 1, 0)
	p.Offerings = []policy.Offering{spot}
	calm := Run(jobs, policy.Policy{}, Config{Pool: p, World: WorldConfig{Seed: 3, Boot: BootModel{Median: 30 * time.Second}}})
	rough := Run(jobs, policy.Policy{}, Config{Pool: p, World: WorldConfig{Seed: 3, Boot: BootModel{Median: 30 * time.Second}, InterruptionRate: 0.2}})
	t.Logf("calm:  %v", calm)
	t.Logf("rough: %v", rough)
	if calm.InterruptedJobs != 0 || rough.InterruptedJobs == 0 || rough.Interruptions == 0 {
		t.Errorf("interrupted jobs calm %d rough %d", calm.InterruptedJobs, rough.InterruptedJobs)
	}
	if rough.CapacityFailures == 0 {
		t.Error("a reclaimed pool should refuse launches for a while")
	}
	if rough.P99WaitS <= calm.P99WaitS {
		t.Errorf("interruptions cost no wait: %v vs %v", rough.P99WaitS, calm.P99WaitS)
	}
}

func TestWriteSVG(t *testing.T) {
	jobs := loadShipped(t)
	res := Compare(jobs, Scenario{World: testWorld(1), Samples: 200})
	var b strings.Builder
	if err := WriteSVG(&b, "shipped", res); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	if !strings.HasPrefix(svg, "<svg") || strings.Count(svg, "<polyline") != 7 || !strings.Contains(svg, "fleet slots: runfleet") {
		t.Errorf("svg: %.300s", svg)
	}
}
