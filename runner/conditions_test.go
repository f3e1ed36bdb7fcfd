package runner

import (
	"context"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// reportingSource raises conditions through the set function the agent
// gave it; it has no jobs.
type reportingSource struct {
	name string
	set  func(condition string, on bool)
}

func (s *reportingSource) Name() string { return s.name }
func (s *reportingSource) Limit() int   { return 0 }
func (s *reportingSource) Acquire(ctx context.Context, _ Slot) (Job, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (s *reportingSource) ReportConditions(set func(string, bool)) { s.set = set }

// TestReportedConditions: a condition a source reports shows in Status and
// runfleet_node_condition while any source reports it, and does not pause
// the node.
func TestReportedConditions(t *testing.T) {
	a1, a2 := &reportingSource{name: "gh-a"}, &reportingSource{name: "gh-b"}
	metrics := NewMetrics(prometheus.NewRegistry())
	agent := NewAgent(AgentOptions{Sources: []Source{a1, a2}, Metrics: metrics})
	if a1.set == nil || a2.set == nil {
		t.Fatal("NewAgent did not wire the condition reporters")
	}
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"nothing reported", func() {}, nil},
		{"one source raises", func() { a1.set("RunnerOutdated", true) }, []string{"RunnerOutdated"}},
		{"raising twice changes nothing", func() { a1.set("RunnerOutdated", true) }, []string{"RunnerOutdated"}},
		{"a second source raises", func() { a2.set("RunnerOutdated", true) }, []string{"RunnerOutdated"}},
		{"one clears, the other still reports", func() { a1.set("RunnerOutdated", false) }, []string{"RunnerOutdated"}},
		{"another condition", func() { a1.set("Other", true) }, []string{"Other", "RunnerOutdated"}},
		{"all clear", func() { a1.set("Other", false); a2.set("RunnerOutdated", false) }, nil},
	}
	for _, s := range steps {
		s.do()
		got := agent.Status().Conditions
		if !slices.Equal(got, s.want) {
			t.Errorf("%s: conditions %v, want %v", s.name, got, s.want)
		}
		want := 0.0
		if slices.Contains(s.want, "RunnerOutdated") {
			want = 1
		}
		if v := testutil.ToFloat64(metrics.conditions.WithLabelValues("RunnerOutdated")); v != want {
			t.Errorf("%s: runfleet_node_condition{RunnerOutdated} = %v, want %v", s.name, v, want)
		}
		if agent.pausedNow() {
			t.Errorf("%s: a reported condition paused the node", s.name)
		}
	}
}
