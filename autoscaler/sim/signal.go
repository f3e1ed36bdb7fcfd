package sim

import (
	"fmt"
	"slices"
	"time"
)

// Signal says how much warning a trace's jobs give: a job's lead is the
// time from the latest earlier sign of it (its run's creation, or an
// earlier job of its run queuing) to its own queue time. No policy can
// start capacity for a job before its lead begins, so jobs with a lead
// under the warm start wait unless idle capacity is already running.
type Signal struct {
	Jobs int `json:"jobs"`
	// NoRun is the share of jobs that belong to no known run.
	NoRun float64 `json:"share_no_run"`
	// NoSignal is the share of jobs with no earlier signal at all (lead 0:
	// they queue with their run's creation, or without a run).
	NoSignal float64 `json:"share_no_earlier_signal"`
	// FirstRun is the share of jobs in the first run of their workflow,
	// before there is anything to learn from.
	FirstRun float64 `json:"share_first_run"`
	// UnderWarm and UnderBoot are the shares of jobs whose lead is shorter
	// than a warm start and than a cold boot.
	UnderWarm float64 `json:"share_lead_under_warm_start"`
	UnderBoot float64 `json:"share_lead_under_boot"`
}

func (s Signal) String() string {
	return fmt.Sprintf("%d jobs; %.1f%% with no earlier signal (%.1f%% in no run), %.1f%% with a lead under the warm start, %.1f%% under a boot, %.1f%% in the first run of their workflow",
		s.Jobs, 100*s.NoSignal, 100*s.NoRun, 100*s.UnderWarm, 100*s.UnderBoot, 100*s.FirstRun)
}

// SignalOf measures jobs' leads against a warm start and a cold boot.
func SignalOf(jobs []Job, warmStart, boot time.Duration) Signal {
	type runKey struct{ repo, workflow, id string }
	type flowKey struct{ repo, workflow string }
	byRun := map[runKey][]Job{}
	firstRun := map[flowKey]runKey{}
	firstAt := map[flowKey]time.Time{}
	s := Signal{Jobs: len(jobs)}
	if len(jobs) == 0 {
		return s
	}
	var noRun, noSignal, underWarm, underBoot, first int
	for _, j := range jobs {
		if j.Run.ID == "" {
			noRun++
			continue
		}
		rk := runKey{j.Run.Repo, j.Run.Workflow, j.Run.ID}
		byRun[rk] = append(byRun[rk], j)
		fk := flowKey{j.Run.Repo, j.Run.Workflow}
		if at, ok := firstAt[fk]; !ok || j.Run.Created.Before(at) {
			firstAt[fk], firstRun[fk] = j.Run.Created, rk
		}
	}
	noSignal, underWarm, underBoot = noRun, noRun, noRun
	for rk, js := range byRun {
		if firstRun[flowKey{rk.repo, rk.workflow}] == rk {
			first += len(js)
		}
		slices.SortStableFunc(js, func(a, b Job) int { return a.Arrival.Compare(b.Arrival) })
		last := js[0].Run.Created // latest signal strictly before the current arrival
		for i, j := range js {
			if i > 0 && js[i-1].Arrival.Before(j.Arrival) {
				last = js[i-1].Arrival
			}
			lead := j.Arrival.Sub(last)
			if lead <= 0 {
				noSignal++
			}
			if lead < warmStart {
				underWarm++
			}
			if lead < boot {
				underBoot++
			}
		}
	}
	n := float64(len(jobs))
	s.NoRun, s.NoSignal, s.UnderWarm, s.UnderBoot, s.FirstRun = float64(noRun)/n, float64(noSignal)/n, float64(underWarm)/n, float64(underBoot)/n, float64(first)/n
	return s
}
