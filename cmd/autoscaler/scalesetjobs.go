package main

import (
	"container/list"
	"time"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
)

// How long the session's word on a job is kept for its node: a completed
// job's for an hour (the node asks right after its runner exits); a
// started one's past the longest a self-hosted job may run (5 days), in
// case its JobCompleted never came.
const (
	jobMemory        = time.Hour
	startedJobMemory = 6 * 24 * time.Hour
)

// sessionJobs is what a scale set's message session said of each
// runner's job (JobStarted, JobCompleted), kept for jobMemory after it
// completed or startedJobMemory after it started. The records of each
// kind are also listed in the order they came, so dropping the expired
// ones looks at the oldest only: O(1) amortised per message, however many
// are kept. Not safe for concurrent use; the zero value is ready.
type sessionJobs struct {
	by                 map[string]*jobRecord // by runner name
	started, completed list.List             // of *jobRecord, oldest first
}

// jobRecord is what the session said of a runner's job, and when.
type jobRecord struct {
	runner string
	job    controlplane.ScaleSetJob
	at     time.Time
	el     *list.Element // in sessionJobs.started or .completed
}

// queue is the list a record of job is kept in, and for how long.
func (m *sessionJobs) queue(job controlplane.ScaleSetJob) (*list.List, time.Duration) {
	if job.Completed {
		return &m.completed, jobMemory
	}
	return &m.started, startedJobMemory
}

// record keeps job as the runner's latest, at now, and drops what has
// expired by now.
func (m *sessionJobs) record(runner string, job controlplane.ScaleSetJob, now time.Time) {
	m.prune(now)
	if m.by == nil {
		m.by = map[string]*jobRecord{}
	}
	if old := m.by[runner]; old != nil {
		l, _ := m.queue(old.job)
		l.Remove(old.el)
	}
	r := &jobRecord{runner: runner, job: job, at: now}
	l, _ := m.queue(job)
	r.el = l.PushBack(r)
	m.by[runner] = r
}

// prune drops the records expired by now, oldest first in each list.
func (m *sessionJobs) prune(now time.Time) {
	for _, done := range []bool{false, true} {
		l, keep := m.queue(controlplane.ScaleSetJob{Completed: done})
		for e := l.Front(); e != nil; e = l.Front() {
			r := e.Value.(*jobRecord)
			if now.Sub(r.at) <= keep {
				break
			}
			l.Remove(e)
			delete(m.by, r.runner)
		}
	}
}

// job is the runner's latest record, if one is kept.
func (m *sessionJobs) job(runner string) (controlplane.ScaleSetJob, bool) {
	r, ok := m.by[runner]
	if !ok {
		return controlplane.ScaleSetJob{}, false
	}
	return r.job, true
}

// len is how many runners' jobs are kept.
func (m *sessionJobs) len() int { return len(m.by) }
