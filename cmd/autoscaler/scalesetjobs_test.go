package main

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
)

// TestSessionJobsDropsExpired: a completed job's record goes an hour
// after it came, a started one's after startedJobMemory; a runner's
// later record replaces its earlier one (which then expires with the
// later's kind), and a long job's started record at the front of the
// order does not keep completed ones behind it.
func TestSessionJobsDropsExpired(t *testing.T) {
	type msg struct {
		at        time.Duration // after t0
		runner    string
		completed bool
	}
	tests := []struct {
		name string
		msgs []msg
		// known after the last message; the last message's runner is
		// always known.
		known []string
	}{
		{"a completed job within the hour", []msg{{0, "a", true}, {59 * time.Minute, "z", false}}, []string{"a", "z"}},
		{"a completed job past the hour", []msg{{0, "a", true}, {61 * time.Minute, "z", false}}, []string{"z"}},
		{"a started job past the hour", []msg{{0, "a", false}, {61 * time.Minute, "z", false}}, []string{"a", "z"}},
		{"a started job past the longest job", []msg{{0, "a", false}, {startedJobMemory + time.Minute, "z", false}}, []string{"z"}},
		{"started then completed: kept an hour from its completion",
			[]msg{{0, "a", false}, {10 * time.Minute, "a", true}, {65 * time.Minute, "z", false}}, []string{"a", "z"}},
		{"started then completed: gone an hour after",
			[]msg{{0, "a", false}, {10 * time.Minute, "a", true}, {71 * time.Minute, "z", false}}, []string{"z"}},
		{"a long job first does not keep later completed ones",
			[]msg{{0, "long", false}, {time.Minute, "b", false}, {2 * time.Minute, "b", true}, {3 * time.Hour, "z", true}}, []string{"long", "z"}},
		{"a runner's new job replaces its old record",
			[]msg{{0, "a", true}, {30 * time.Minute, "a", false}, {2 * time.Hour, "z", true}}, []string{"a", "z"}},
	}
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m sessionJobs
			for _, ms := range tt.msgs {
				m.record(ms.runner, controlplane.ScaleSetJob{ID: int64(ms.at), Completed: ms.completed}, t0.Add(ms.at))
			}
			var got []string
			for _, name := range []string{"a", "b", "long", "z"} {
				if _, ok := m.job(name); ok {
					got = append(got, name)
				}
			}
			if !slices.Equal(got, tt.known) {
				t.Errorf("known %v, want %v", got, tt.known)
			}
			if n := m.started.Len() + m.completed.Len(); n != m.len() {
				t.Errorf("%d records listed for %d runners: a replaced record was left in the order", n, m.len())
			}
			last := tt.msgs[len(tt.msgs)-1]
			if j, _ := m.job(last.runner); j.ID != int64(last.at) || j.Completed != last.completed {
				t.Errorf("%s's record is %+v, want the last message's", last.runner, j)
			}
		})
	}
}

// BenchmarkSessionJobsRecord: a message's cost with 1,000 and with
// 100,000 runners' jobs kept (a busy hour of a large fleet). Recording
// drops expired records from the front of its lists only, so the two
// should be about equal (compare them as a ratio); a scan of every record
// per message would grow with the records kept.
func BenchmarkSessionJobsRecord(b *testing.B) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for _, kept := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("kept-%d", kept), func(b *testing.B) {
			var m sessionJobs
			for i := range kept {
				m.record(fmt.Sprintf("runner-%d", i), controlplane.ScaleSetJob{ID: int64(i)}, t0)
			}
			names := make([]string, 1024)
			for i := range names {
				names[i] = fmt.Sprintf("new-%d", i)
			}
			i := 0
			for b.Loop() {
				// A job of one of 1,024 runners completed (replacing the
				// runner's earlier record); the started ones do not expire
				// here, so about kept+1,024 records stay.
				m.record(names[i%len(names)], controlplane.ScaleSetJob{ID: int64(i), Completed: true}, t0.Add(time.Minute))
				i++
			}
		})
	}
}
