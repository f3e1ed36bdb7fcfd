package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Job is one job of a trace.
type Job struct {
	ID       string
	Arrival  time.Time
	Duration time.Duration
	Labels   []string
	// Run is the workflow run (pipeline, build) the job belongs to; zero
	// when the trace does not say.
	Run RunInfo
}

// RunInfo names a job's workflow run and when it was created: the signal a
// live fleet gets (workflow_run requested, pipeline created) before the
// run's jobs queue.
type RunInfo struct {
	Repo, Workflow, ID string
	Created            time.Time
}

// TraceStats says what LoadTrace kept and skipped.
type TraceStats struct {
	Rows, Kept, NoArrival, NoDuration int
}

// LoadTrace reads a CSV trace whose header names at least job_id,
// queued_at_unix, started_at_unix, finished_at_unix and labels (Unix
// seconds, fractions allowed; labels separated by ';'). Rows without a
// queued time or with a non-positive duration are skipped and counted.
// Jobs come back sorted by arrival.
//
// When the header also names run_id, workflow and run_created_at_unix
// (and optionally repo), each job carries its Run, which feeds the
// forecaster as a run-start event. Buildkite traces name the same things
// pipeline, build_number and scheduled_at_unix (a build's jobs share its
// scheduled time); they are read as such when run_id is absent. A run
// created after its job queued is taken as created at the queue time.
func LoadTrace(r io.Reader) ([]Job, TraceStats, error) {
	var st TraceStats
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, st, fmt.Errorf("trace header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{"job_id", "queued_at_unix", "started_at_unix", "finished_at_unix", "labels"} {
		if _, ok := col[need]; !ok {
			return nil, st, fmt.Errorf("trace header lacks %q", need)
		}
	}
	var jobs []Job
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, st, fmt.Errorf("trace line %d: %w", st.Rows+2, err)
		}
		st.Rows++
		queued, okQ := unix(rec[col["queued_at_unix"]])
		started, okS := unix(rec[col["started_at_unix"]])
		finished, okF := unix(rec[col["finished_at_unix"]])
		switch {
		case !okQ:
			st.NoArrival++
			continue
		case !okS || !okF || !finished.After(started):
			st.NoDuration++
			continue
		}
		var labels []string
		if l := rec[col["labels"]]; l != "" {
			labels = strings.Split(l, ";")
		}
		jobs = append(jobs, Job{ID: rec[col["job_id"]], Arrival: queued, Duration: finished.Sub(started), Labels: labels, Run: runOf(rec, col, queued)})
	}
	sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].Arrival.Before(jobs[j].Arrival) })
	st.Kept = len(jobs)
	return jobs, st, nil
}

// runOf reads a row's run columns, native or Buildkite's.
func runOf(rec []string, col map[string]int, queued time.Time) RunInfo {
	get := func(name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var run RunInfo
	var created string
	switch {
	case get("run_id") != "":
		run = RunInfo{Repo: get("repo"), Workflow: get("workflow"), ID: get("run_id")}
		created = get("run_created_at_unix")
	case get("build_number") != "":
		run = RunInfo{Repo: get("repo"), Workflow: get("pipeline"), ID: get("pipeline") + "#" + get("build_number")}
		created = get("scheduled_at_unix")
	default:
		return RunInfo{}
	}
	at, ok := unix(created)
	if !ok || at.After(queued) {
		at = queued
	}
	run.Created = at
	return run
}

func unix(s string) (time.Time, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f <= 0 || math.IsNaN(f) {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}
