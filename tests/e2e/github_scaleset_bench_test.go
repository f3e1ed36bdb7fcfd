package e2e

import (
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/docker"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/scaleset"
	"github.com/runfleet/runfleet/runner/github/scalesettest"
)

// BenchmarkGitHubScaleSetJobStart measures, in scale-set mode with the
// stand-in runner image, the time from a job queued on the fake service
// to a runner container taking it:
//   - cold (min idle 0): JobAvailable → acquire → JobAssigned → desired 1
//     → JIT config → container create + start → runner connects;
//   - warm (min idle 1): a runner container already waits in the slot.
//
// The baseline is a raw engine create+start+first byte of the busybox
// image, measured in the same run.
func BenchmarkGitHubScaleSetJobStart(b *testing.B) {
	raw := rawFirstByte(b)
	b.ReportMetric(float64(raw.Microseconds())/1000, "raw-first-byte-ms")
	for _, mode := range []struct {
		name    string
		minIdle int
	}{{"cold", 0}, {"warm", 1}} {
		b.Run(mode.name, func(b *testing.B) {
			fake := newScaleSetFake(b)
			node := nodeName(b)
			ex, err := docker.New(docker.Options{Node: node, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { ex.Close(); reapNode(b, node) })
			l, err := scaleset.New(scaleset.Options{
				Config: scaleset.Config{Name: "bench", Max: 2, MinIdle: mode.minIdle, Slots: 1, Owner: node},
				API:    scalesetAPI(b, fake),
				Launcher: scaleset.ContainerLauncher{Launcher: &github.RunnerLauncher{Executor: ex, Node: node,
					Image: githubStubImage, PullPolicy: "never", StateDir: b.TempDir(),
					Resources: executors.Resources{Memory: 256 << 20, PidsLimit: 512}}},
				Registerer: prometheus.NewRegistry(),
			})
			if err != nil {
				b.Fatal(err)
			}
			runScaleSet(b, l, 1)

			var total time.Duration
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				waitFor(b, time.Minute, "the slot ready", func() bool {
					rs := fake.Runners()
					if mode.minIdle == 0 { // nothing left, not even a container being removed
						return len(rs) == 0 && len(leftovers(b, node)) == 0
					}
					return len(rs) == 1 && rs[0].Online && !rs[0].Busy
				})
				b.StartTimer()
				id := fake.QueueJob(scalesettest.Job{Labels: []string{"bench"}, Steps: []string{"true"}})
				var j scalesettest.JobStatus
				waitFor(b, time.Minute, "the job completed", func() bool {
					j, _ = fake.Job(id)
					return j.State == scalesettest.JobCompleted
				})
				total += j.StartedAt.Sub(j.QueuedAt)
			}
			avg := total / time.Duration(b.N)
			b.ReportMetric(float64(avg.Microseconds())/1000, "queued-to-taken-ms")
			b.ReportMetric(float64(avg)/float64(raw), "x-raw-first-byte")
		})
	}
}
