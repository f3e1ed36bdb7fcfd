package runner

import (
	"slices"
	"strings"
	"time"
)

// RunningJob is one job the agent runs now.
type RunningJob struct {
	ID     string
	Source string
	Since  time.Time
}

// Status is what the agent reports to a fleet control plane.
type Status struct {
	Slots   int
	Busy    int
	Running []RunningJob
	// Cleaning counts finished jobs whose containers are still being
	// removed after their slots were freed (cleanups.go): not busy, but
	// the agent does not exit before they end.
	Cleaning int
	// Conditions in force: the cordon reason (Interrupted, Rebalance,
	// Cordoned, Draining), transient ones (DiskPressure, MemoryPressure)
	// and those sources report (RunnerOutdated).
	Conditions []string
}

// track records a running job until the returned func is called.
func (a *Agent) track(source, id string, since time.Time) func() {
	key := source + "\x00" + id
	a.mu.Lock()
	if a.running == nil {
		a.running = map[string]RunningJob{}
	}
	a.running[key] = RunningJob{ID: id, Source: source, Since: since}
	a.metrics.setBusy(len(a.running))
	a.mu.Unlock()
	return func() {
		a.mu.Lock()
		delete(a.running, key)
		a.metrics.setBusy(len(a.running))
		a.mu.Unlock()
	}
}

// Status reports slots, running jobs and conditions.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := Status{Slots: a.concurrent, Busy: len(a.running), Cleaning: a.cleanups.count()}
	for _, j := range a.running {
		st.Running = append(st.Running, j)
	}
	slices.SortFunc(st.Running, func(x, y RunningJob) int { return strings.Compare(x.Source+x.ID, y.Source+y.ID) })
	if a.cordoned != "" {
		st.Conditions = append(st.Conditions, a.cordoned)
	}
	for c := range a.paused {
		st.Conditions = append(st.Conditions, c)
	}
	st.Conditions = append(st.Conditions, a.reported.list()...) // conditions.go
	slices.Sort(st.Conditions)
	return st
}
