package githubtest

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// JobSpec is a workflow job to queue.
type JobSpec struct {
	// Repo is "owner/repo"; it must exist (AddRepo).
	Repo string
	Name string
	// Labels is the job's runs-on label set; a runner takes the job when
	// its labels contain all of them (case-insensitive).
	Labels []string
	// Script lines, run with sh by the stand-in runner.
	Script []string
}

// Job is a snapshot of a workflow job.
type Job struct {
	ID, RunID       int64
	Repo, Name      string
	Labels, Script  []string
	Status          string // queued | in_progress | completed
	Conclusion      string // success | failure | cancelled, once completed
	Output          string
	RunnerID        int64
	RunnerName      string
	RunnerGroupID   int64
	RunnerGroupName string
	QueuedAt        time.Time
	StartedAt       time.Time
	CompletedAt     time.Time
}

// Enqueue queues a job and sends its "queued" webhook delivery.
func (s *Server) Enqueue(spec JobSpec) int64 {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repos[spec.Repo] == nil {
		s.tb.Fatalf("githubtest: Enqueue: no repo %q (AddRepo first)", spec.Repo)
	}
	if len(spec.Labels) == 0 {
		spec.Labels = []string{"self-hosted"}
	}
	if spec.Name == "" {
		spec.Name = "build"
	}
	j := &Job{ID: s.nextJobID, RunID: s.nextJobID + 1_000_000, Repo: spec.Repo, Name: spec.Name,
		Labels: slices.Clone(spec.Labels), Script: slices.Clone(spec.Script), Status: "queued", QueuedAt: s.now()}
	s.nextJobID++
	s.jobs[j.ID] = j
	s.order = append(s.order, j.ID)
	s.notifyLocked()
	s.deliverLocked("queued", j)
	return j.ID
}

// Job returns a snapshot of job id.
func (s *Server) Job(id int64) Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	if j == nil {
		return Job{}
	}
	c := *j
	c.Labels, c.Script = slices.Clone(j.Labels), slices.Clone(j.Script)
	return c
}

// WaitCompleted waits until job id is completed and returns it.
func (s *Server) WaitCompleted(tb testing.TB, id int64, timeout time.Duration) Job {
	tb.Helper()
	return s.waitJob(tb, id, timeout, "completed", func(j Job) bool { return j.Status == "completed" })
}

// WaitStarted waits until a runner has taken job id and returns it.
func (s *Server) WaitStarted(tb testing.TB, id int64, timeout time.Duration) Job {
	tb.Helper()
	return s.waitJob(tb, id, timeout, "started", func(j Job) bool { return j.Status != "queued" })
}

func (s *Server) waitJob(tb testing.TB, id int64, timeout time.Duration, what string, cond func(Job) bool) Job {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		wake := s.changed
		s.mu.Unlock()
		if j := s.Job(id); cond(j) {
			return j
		}
		select {
		case <-wake:
		case <-deadline.C:
			tb.Fatalf("githubtest: job %d not %s within %s (status %q)", id, what, timeout, s.Job(id).Status)
		case <-s.done:
			tb.Fatalf("githubtest: server closed while waiting for job %d", id)
		}
	}
}

// WaitRunners waits until cond holds for the registered runners.
func (s *Server) WaitRunners(tb testing.TB, timeout time.Duration, what string, cond func([]RunnerInfo) bool) []RunnerInfo {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		wake := s.changed
		s.mu.Unlock()
		if rs := s.Runners(); cond(rs) {
			return rs
		}
		select {
		case <-wake:
		case <-deadline.C:
			tb.Fatalf("githubtest: timed out after %s waiting for %s; runners: %+v", timeout, what, s.Runners())
		case <-s.done:
			tb.Fatalf("githubtest: server closed while waiting for %s", what)
		}
	}
}

// matches reports whether a runner with labels may take a job asking for want.
func matches(labels, want []string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(labels, func(l string) bool { return strings.EqualFold(l, w) }) {
			return false
		}
	}
	return true
}

// assignLocked gives the oldest queued job that rn's labels match to rn.
func (s *Server) assignLocked(rn *runner) *Job {
	for _, id := range s.order {
		j := s.jobs[id]
		if j.Status != "queued" || !matches(rn.labels, j.Labels) {
			continue
		}
		if repo := s.repos[j.Repo]; repo == nil || (rn.scope.kind == "repos" && rn.scope != repo) ||
			(rn.scope.kind == "orgs" && rn.scope.name != repo.owner) {
			continue
		}
		j.Status, j.StartedAt = "in_progress", s.now()
		j.RunnerID, j.RunnerName, j.RunnerGroupID = rn.id, rn.name, rn.groupID
		j.RunnerGroupName = rn.scope.groups[rn.groupID].Name
		rn.busy, rn.jobID = true, j.ID
		s.notifyLocked()
		s.deliverLocked("in_progress", j)
		return j
	}
	return nil
}
