package scaleset

import (
	"context"
	"fmt"
	"slices"

	actions "github.com/actions/scaleset"
)

// QueuedJobs counts jobs waiting under one label set. It has the shape
// of the autoscaler's demand type; the runner side never imports the
// control plane.
type QueuedJobs struct {
	Labels []string
	Count  int
}

func (l *Listener) setStatistics(st actions.RunnerScaleSetStatistic) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats = &st
}

// Statistics returns the scale set's last statistics and whether any
// arrived yet.
func (l *Listener) Statistics() (actions.RunnerScaleSetStatistic, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stats == nil {
		return actions.RunnerScaleSetStatistic{}, false
	}
	return *l.stats, true
}

// Desired returns min(max, min idle + assigned jobs) from the last
// statistics.
func (l *Listener) Desired() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.desired
}

// Queued reports the scale set's jobs waiting for a runner: jobs GitHub
// assigned to the scale set that no runner runs yet (TotalAssignedJobs −
// TotalRunningJobs; assigned includes running), under the scale set's
// label set. Jobs merely available are not counted: another scale set
// may take them. Before the first statistics it answers ErrNotConnected,
// so the consumer can tell "no demand" from "demand unknown".
func (l *Listener) Queued(ctx context.Context) ([]QueuedJobs, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, ok := l.Statistics()
	if !ok {
		return nil, fmt.Errorf("scale set %s: %w", l.cfg.Name, ErrNotConnected)
	}
	n := st.TotalAssignedJobs - st.TotalRunningJobs
	if n <= 0 {
		return []QueuedJobs{}, nil
	}
	return []QueuedJobs{{Labels: slices.Clone(l.labels), Count: n}}, nil
}
