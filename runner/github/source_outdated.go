package github

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/clock"
	"github.com/runfleet/runfleet/runner/github/runnerversion"
)

// probeGrace is how long a probe runner must run without GitHub refusing
// it before the image counts as accepted again (GitHub refuses an outdated
// runner on its first call, within seconds).
const probeGrace = 30 * time.Second

// OutdatedGate is a job source's memory of GitHub refusing its image's
// runner as outdated, shared by label mode (Source) and scale sets
// (runner/github/scaleset): after a refusal no JIT config is minted for
// the image, the RunnerOutdated node condition is raised and the fix is
// logged, until one probe runner after Recheck is not refused. The zero
// value is not ready: use NewOutdatedGate.
type OutdatedGate struct {
	recheck time.Duration
	clock   clock.Clock
	log     *slog.Logger

	mu      sync.Mutex
	err     *RunnerOutdatedError // nil while GitHub accepts the image
	since   time.Time            // the last refusal
	probing bool                 // one Admit is checking whether the image was updated
	changed chan struct{}        // closed and replaced when err or probing changes
	report  func(condition string, on bool)
}

// NewOutdatedGate returns a gate that probes again recheck after a
// refusal (30 min when 0) on clk (the real clock when nil) and logs to log.
func NewOutdatedGate(recheck time.Duration, clk clock.Clock, log *slog.Logger) *OutdatedGate {
	if recheck <= 0 {
		recheck = 30 * time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &OutdatedGate{recheck: recheck, clock: clock.Or(clk), log: log, changed: make(chan struct{})}
}

var (
	_ runner.ConditionReporter = (*Source)(nil)
	_ runner.ConditionReporter = (*OutdatedGate)(nil)
)

// ReportConditions implements runner.ConditionReporter: the source raises
// ConditionRunnerOutdated through set while GitHub refuses its image.
func (s *Source) ReportConditions(set func(condition string, on bool)) {
	s.outdated.ReportConditions(set)
}

// Outdated is GitHub's refusal of this source's image while it stands
// (nil when the image is accepted).
func (s *Source) Outdated() *RunnerOutdatedError { return s.outdated.Outdated() }

// ReportConditions implements runner.ConditionReporter: the gate raises
// ConditionRunnerOutdated through set while GitHub refuses the image.
func (g *OutdatedGate) ReportConditions(set func(condition string, on bool)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.report = set
	if set != nil && g.err != nil {
		set(ConditionRunnerOutdated, true)
	}
}

// Outdated is GitHub's refusal while it stands (nil when accepted).
func (g *OutdatedGate) Outdated() *RunnerOutdatedError {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Admission is one caller's leave to mint a JIT config; Done ends it.
type Admission struct {
	g     *OutdatedGate
	probe bool
	stop  func() bool // the probe's grace timer

	once sync.Once
}

// Admit returns at once while GitHub accepts the image. After a refusal
// it blocks (no JIT config is minted for the image) until Recheck has
// passed, then lets exactly one caller through as the probe while the
// others keep waiting for its verdict. A probe not refused within
// probeGrace counts as accepted.
func (g *OutdatedGate) Admit(ctx context.Context) (*Admission, error) {
	for {
		g.mu.Lock()
		if g.err == nil {
			g.mu.Unlock()
			return &Admission{g: g}, nil
		}
		wait, changed := g.since.Add(g.recheck).Sub(g.clock.Now()), g.changed
		if wait <= 0 && !g.probing {
			g.probing = true
			g.broadcastLocked()
			image := g.err.Image
			g.mu.Unlock()
			g.log.Info("probing whether GitHub accepts the runner image again", "image", image)
			a := &Admission{g: g, probe: true}
			a.stop = clock.AfterFunc(g.clock, probeGrace, func() { a.Done(nil) }) // GitHub did not refuse the probe
			return a, nil
		}
		if g.probing {
			wait = g.recheck
		}
		g.mu.Unlock()
		t := g.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-changed:
		case <-t.C():
		}
		t.Stop()
	}
}

// Done ends the admission with the runner's fate: a RunnerOutdatedError
// in err (also wrapped or joined) records the refusal, stops minting,
// raises the condition and logs the fix; a probe that took a job (err
// nil) clears the refusal; a probe without a verdict lets the next probe
// come after Recheck. Only the first verdict of a probe counts; a refusal
// always does.
func (a *Admission) Done(err error) {
	if a == nil {
		return
	}
	var outdated *RunnerOutdatedError
	if errors.As(err, &outdated) {
		a.once.Do(func() {})
		if a.stop != nil {
			a.stop()
		}
		a.g.refused(outdated)
		return
	}
	if !a.probe {
		return
	}
	a.once.Do(func() {
		if a.stop != nil {
			a.stop()
		}
		if err == nil {
			a.g.accepted()
		} else {
			a.g.probeDone()
		}
	})
}

// refused records GitHub's refusal, stops minting for the image, raises
// the node condition and logs the fix once per refusal episode.
func (g *OutdatedGate) refused(e *RunnerOutdatedError) {
	g.mu.Lock()
	first := g.err == nil
	g.err, g.since, g.probing = e, g.clock.Now(), false
	g.broadcastLocked()
	report := g.report
	g.mu.Unlock()
	if first {
		if report != nil {
			report(ConditionRunnerOutdated, true)
		}
		g.log.Error("GitHub refuses this runner image as outdated: no more JIT configs are minted for it",
			"condition", ConditionRunnerOutdated, "image", e.Image, "runner_version", e.Version,
			"github_says", runnerversion.Deprecated(e.Version), "fix", runnerversion.Fix(e.Image), "recheck_in", g.recheck)
	} else {
		g.log.Warn("GitHub still refuses the runner image", "image", e.Image, "runner_version", e.Version, "fix", runnerversion.Fix(e.Image))
	}
}

// accepted clears a refusal once a probe runner was not refused.
func (g *OutdatedGate) accepted() {
	g.mu.Lock()
	was := g.err
	g.err, g.probing = nil, false
	g.broadcastLocked()
	report := g.report
	g.mu.Unlock()
	if was == nil {
		return
	}
	if report != nil {
		report(ConditionRunnerOutdated, false)
	}
	g.log.Info("GitHub accepts the runner image again: minting resumes", "condition", ConditionRunnerOutdated, "image", was.Image)
}

// probeDone ends a probe that gave no verdict (cancelled, or failed for
// another reason): the next probe comes after Recheck.
func (g *OutdatedGate) probeDone() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.probing {
		g.probing, g.since = false, g.clock.Now()
		g.broadcastLocked()
	}
}

func (g *OutdatedGate) broadcastLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}
