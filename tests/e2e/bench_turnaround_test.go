package e2e

import (
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// BenchmarkTurnaround measures whole jobs on the strict fake GitLab with
// a real engine, per engine, with warm containers (warm_containers =
// true), as ratios to their floors in the same run:
//
//   - trivial: a job with git sources (GIT_STRATEGY=fetch) and script
//     `true`, from hand-out to the final state acknowledged by GitLab,
//     against the raw engine lifecycle of one container (create, start,
//     exit, remove) measured before each job (goal ≤ 0.3 s, about that
//     lifecycle);
//   - sleep: 12 jobs of `sleep 2` at concurrency 4, from enqueueing them
//     all to the last final state acknowledged, against the 6 s floor of
//     three waves of 2 s (goal: within 1 s of it). gitlab-runner 17.11's
//     docker executor takes 2.5 s and 23.5 s on an equivalent rig.
func BenchmarkTurnaround(b *testing.B) {
	for _, rig := range benchRigs(b) {
		srv := gitlabtest.New(b, gitlabtest.WithLongPollHold(30*time.Second))
		srv.AddRepo(b, "group/project", map[string]string{"README.md": "x\n"})
		a := rig.start(b, srv, 4, "warm_containers = true")
		// Warm up: the first job of a slot pays for its first clone.
		var warm []int64
		for range 4 {
			warm = append(warm, srv.Enqueue(gitlabtest.JobSpec{Script: []string{"true"}}))
		}
		for _, id := range warm {
			srv.WaitFinal(b, id, 2*time.Minute)
		}
		var trivial, lifecycle, makespan time.Duration
		for range b.N {
			time.Sleep(settle)
			lifecycle += rig.lifecycle()
			id := srv.Enqueue(gitlabtest.JobSpec{Script: []string{"true"}})
			handed := waitHanded(b, srv, id)
			trivial += waitAcked(b, srv, id) - handed
			if rec := srv.WaitFinal(b, id, time.Minute); rec.State != gitlabtest.StateSuccess {
				b.Fatalf("trivial job %d: %s\n%s", id, rec.State, rec.Trace)
			}
			time.Sleep(settle)

			start := uptime(b)
			var ids []int64
			for range 12 {
				ids = append(ids, srv.Enqueue(gitlabtest.JobSpec{Script: []string{"sleep 2"}}))
			}
			var last time.Duration
			for _, id := range ids {
				last = max(last, waitAcked(b, srv, id))
				if rec := srv.WaitFinal(b, id, time.Minute); rec.State != gitlabtest.StateSuccess {
					b.Fatalf("sleep job %d: %s\n%s", id, rec.State, rec.Trace)
				}
			}
			makespan += last - start
		}
		n := time.Duration(b.N)
		const floor = 3 * 2 * time.Second // 12 jobs / 4 slots × 2 s
		b.ReportMetric(ms(trivial/n), rig.name+"-trivial-git-ms")
		b.ReportMetric(ms(lifecycle/n), rig.name+"-raw-lifecycle-ms")
		b.ReportMetric(float64(trivial)/float64(lifecycle), rig.name+"-trivial-git/lifecycle")
		b.ReportMetric((makespan / n).Seconds(), rig.name+"-sleep-12x4-s")
		b.ReportMetric((makespan/n - floor).Seconds(), rig.name+"-sleep-12x4-over-floor-s")
		b.ReportMetric(float64(makespan/n)/float64(floor), rig.name+"-sleep-12x4/floor")
		_ = a.stop(time.Minute)
	}
}
