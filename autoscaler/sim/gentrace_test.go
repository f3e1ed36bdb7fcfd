package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// shippedTrace is the synthetic trace shipped for tests and the demo.
const shippedTrace = "testdata/gitlab_pipelines_2d.csv"

// TestGenerateShippedTrace rewrites testdata/gitlab_pipelines_2d.csv when
// RUNFLEET_REGEN_TRACE=1: two weekdays of GitLab-style pipelines (a build
// stage of three parallel jobs, then a test stage of two), arriving as a
// Poisson process of 30 pipelines an hour in working hours (08–18 UTC) and
// 3 an hour outside, job durations log-normal around 3 and 6 minutes.
func TestGenerateShippedTrace(t *testing.T) {
	if os.Getenv("RUNFLEET_REGEN_TRACE") == "" {
		t.Skip("set RUNFLEET_REGEN_TRACE=1 to rewrite " + shippedTrace)
	}
	rng := rand.New(rand.NewPCG(2026, 11))
	start := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // a Monday
	end := start.Add(48 * time.Hour)
	var b strings.Builder
	b.WriteString("job_id,queued_at_unix,started_at_unix,finished_at_unix,labels,pipeline,stage\n")
	dur := func(median time.Duration) time.Duration {
		d := time.Duration(float64(median) * math.Exp(0.6*rng.NormFloat64()))
		return max(d, 20*time.Second).Round(time.Second)
	}
	id, pipe := 0, 0
	for at := start; at.Before(end); {
		rate := 3.0
		if h := at.Hour(); h >= 8 && h < 18 {
			rate = 30
		}
		at = at.Add(time.Duration(rng.ExpFloat64() / rate * float64(time.Hour))).Round(time.Second)
		pipe++
		stage2 := at
		for range 3 {
			id++
			d := dur(3 * time.Minute)
			fmt.Fprintf(&b, "%d,%d,%d,%d,docker;linux,%d,build\n", id, at.Unix(), at.Unix(), at.Add(d).Unix(), pipe)
			if e := at.Add(d); e.After(stage2) {
				stage2 = e
			}
		}
		for range 2 {
			id++
			d := dur(6 * time.Minute)
			fmt.Fprintf(&b, "%d,%d,%d,%d,docker;linux,%d,test\n", id, stage2.Unix(), stage2.Unix(), stage2.Add(d).Unix(), pipe)
		}
	}
	if err := os.WriteFile(shippedTrace, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d jobs in %d pipelines", id, pipe)
}
