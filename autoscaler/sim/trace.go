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
		jobs = append(jobs, Job{ID: rec[col["job_id"]], Arrival: queued, Duration: finished.Sub(started), Labels: labels})
	}
	sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].Arrival.Before(jobs[j].Arrival) })
	st.Kept = len(jobs)
	return jobs, st, nil
}

func unix(s string) (time.Time, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f <= 0 || math.IsNaN(f) {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}
