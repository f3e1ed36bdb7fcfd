package gitlab

import (
	"slices"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
)

// stage is one stage of a pipeline as its last listing shows it: its
// created, pending and running jobs. first orders stages: GitLab creates
// a pipeline's jobs stage by stage, so a stage's lowest job id says where
// it stands.
type stage struct {
	name  string
	first int64
	jobs  []*gl.Job
}

func (st stage) active() bool {
	return slices.ContainsFunc(st.jobs, func(j *gl.Job) bool { return j.Status != "created" })
}

// stages groups the listed jobs by stage, in pipeline order.
func (tp *trackedPipeline) stages() []stage {
	var out []stage
	for _, j := range tp.listed {
		i := slices.IndexFunc(out, func(st stage) bool { return st.name == j.Stage })
		if i < 0 {
			out = append(out, stage{name: j.Stage, first: j.ID})
			i = len(out) - 1
		}
		out[i].jobs = append(out[i].jobs, j)
		out[i].first = min(out[i].first, j.ID)
	}
	slices.SortFunc(out, func(a, b stage) int { return int(a.first - b.first) })
	return out
}

// meanFunc is Forecast.MeanDuration.
type meanFunc func(repo, workflow string, labels []string) (time.Duration, bool)

// known is the pipeline's created jobs with the time each should queue.
// The first stage with a pending or running job is the current one;
// stages before it are done. A stage's created jobs queue when the stage
// before it ends: the current stage ends when its last job should end
// (a running job at its start plus the mean run time of its workflow's
// jobs with its tags; a pending one a mean run time from now), and each
// later stage a mean run time of its slowest job after it queues. When
// no stage is active yet (a pipeline just created), the first stage's
// created jobs queue now. Where a mean run time is not known yet, the
// next stage's jobs are reported with no time (the forecast counts them
// within its longest horizon) and the stages after it not at all.
func (tp *trackedPipeline) known(now time.Time, mean meanFunc) []controlplane.KnownJobs {
	stages := tp.stages()
	if len(stages) == 0 {
		return nil
	}
	cur := max(slices.IndexFunc(stages, stage.active), 0)
	var out []controlplane.KnownJobs
	t := now // when the created jobs looked at queue; zero: not known
	if stages[cur].active() {
		t = tp.stageEnd(stages[cur], now, now, mean)
	}
	out = append(out, created(stages[cur], t)...)
	if !stages[cur].active() {
		t = tp.stageEnd(stages[cur], now, now, mean)
	}
	for _, st := range stages[cur+1:] {
		out = append(out, created(st, t)...)
		if t.IsZero() {
			break
		}
		t = tp.stageEnd(st, t, now, mean)
	}
	return out
}

// stageEnd is when the last job of st should end if its created jobs
// queue at start; zero when a mean run time is not known.
func (tp *trackedPipeline) stageEnd(st stage, start, now time.Time, mean meanFunc) time.Time {
	var end time.Time
	for _, j := range st.jobs {
		d, ok := mean(tp.repo, tp.workflow, sortedTags(j.TagList))
		if !ok {
			return time.Time{}
		}
		from := start
		switch {
		case j.Status == "running" && j.StartedAt != nil:
			from = *j.StartedAt
		case j.Status != "created":
			from = now
		}
		end = maxTime(end, maxTime(from.Add(d), now))
	}
	return end
}

// created counts st's created jobs by tag set, to queue at t.
func created(st stage, t time.Time) []controlplane.KnownJobs {
	var out []controlplane.KnownJobs
	for _, j := range st.jobs {
		if j.Status != "created" {
			continue
		}
		tags := sortedTags(j.TagList)
		i := slices.IndexFunc(out, func(k controlplane.KnownJobs) bool { return slices.Equal(k.Labels, tags) })
		if i < 0 {
			out = append(out, controlplane.KnownJobs{Labels: tags, QueueBy: t})
			i = len(out) - 1
		}
		out[i].Count++
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// publishKnown hands the forecaster the created jobs of every tracked
// pipeline, merged by tag set and queue time.
func (s *Source) publishKnown() {
	if s.fc == nil {
		return
	}
	s.mu.Lock()
	now := s.now()
	var all []controlplane.KnownJobs
	for _, tp := range s.pipelines {
		for _, k := range tp.known(now, s.fc.MeanDuration) {
			i := slices.IndexFunc(all, func(a controlplane.KnownJobs) bool {
				return a.QueueBy.Equal(k.QueueBy) && slices.Equal(a.Labels, k.Labels)
			})
			if i < 0 {
				all = append(all, k)
			} else {
				all[i].Count += k.Count
			}
		}
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b controlplane.KnownJobs) int {
		if c := a.QueueBy.Compare(b.QueueBy); c != 0 {
			return c
		}
		return strings.Compare(strings.Join(a.Labels, ","), strings.Join(b.Labels, ","))
	})
	s.fc.SetKnown(s.name, all)
}
