package github

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/github/runnerversion"
)

// probeGrace is how long a probe runner must run without GitHub refusing
// it before the image counts as accepted again (GitHub refuses an outdated
// runner on its first call, within seconds).
const probeGrace = 30 * time.Second

// outdatedState is a Source's memory of GitHub refusing its image's runner.
type outdatedState struct {
	mu      sync.Mutex
	err     *RunnerOutdatedError // nil while GitHub accepts the image
	since   time.Time            // the last refusal
	probing bool                 // one Acquire is checking whether the image was updated
	changed chan struct{}        // closed and replaced when err or probing changes
	report  func(condition string, on bool)
}

var _ runner.ConditionReporter = (*Source)(nil)

// ReportConditions implements runner.ConditionReporter: the source raises
// ConditionRunnerOutdated through set while GitHub refuses its image.
func (s *Source) ReportConditions(set func(condition string, on bool)) {
	s.outdated.mu.Lock()
	defer s.outdated.mu.Unlock()
	s.outdated.report = set
	if set != nil && s.outdated.err != nil {
		set(ConditionRunnerOutdated, true)
	}
}

// Outdated is GitHub's refusal of this source's image while it stands
// (nil when the image is accepted).
func (s *Source) Outdated() *RunnerOutdatedError {
	s.outdated.mu.Lock()
	defer s.outdated.mu.Unlock()
	return s.outdated.err
}

// waitAccepted returns at once while GitHub accepts the image. After a
// refusal it blocks (no JIT config is minted for the image) until
// OutdatedRecheck has passed, then lets exactly one caller through as the
// probe (probe = true) while the others keep waiting for its verdict.
func (s *Source) waitAccepted(ctx context.Context) (probe bool, err error) {
	o := &s.outdated
	for {
		o.mu.Lock()
		if o.err == nil {
			o.mu.Unlock()
			return false, nil
		}
		if o.changed == nil {
			o.changed = make(chan struct{})
		}
		wait, changed := time.Until(o.since.Add(s.o.OutdatedRecheck)), o.changed
		if wait <= 0 && !o.probing {
			o.probing = true
			o.broadcastLocked()
			o.mu.Unlock()
			s.log.Info("probing whether GitHub accepts the runner image again", "image", o.err.Image)
			return true, nil
		}
		if o.probing {
			wait = s.o.OutdatedRecheck
		}
		o.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// refused records GitHub's refusal of version, stops minting for the
// image, raises the node condition and logs the fix once per refusal
// episode. It returns the typed error for the caller.
func (s *Source) refused(log *slog.Logger, version string) error {
	image := s.o.Launcher.Image
	if image == "" {
		image = DefaultRunnerImage
	}
	e := &RunnerOutdatedError{Image: image, Version: version}
	o := &s.outdated
	o.mu.Lock()
	first := o.err == nil
	o.err, o.since, o.probing = e, time.Now(), false
	o.broadcastLocked()
	report := o.report
	o.mu.Unlock()
	if first {
		if report != nil {
			report(ConditionRunnerOutdated, true)
		}
		log.Error("GitHub refuses this runner image as outdated: no more JIT configs are minted for it",
			"condition", ConditionRunnerOutdated, "image", image, "runner_version", version,
			"github_says", runnerversion.Deprecated(version), "fix", runnerversion.Fix(image), "recheck_in", s.o.OutdatedRecheck)
	} else {
		log.Warn("GitHub still refuses the runner image", "image", image, "runner_version", version, "fix", runnerversion.Fix(image))
	}
	return e
}

// accepted clears a refusal once a probe runner was not refused.
func (s *Source) accepted(log *slog.Logger) {
	o := &s.outdated
	o.mu.Lock()
	was := o.err
	o.err, o.probing = nil, false
	o.broadcastLocked()
	report := o.report
	o.mu.Unlock()
	if was == nil {
		return
	}
	if report != nil {
		report(ConditionRunnerOutdated, false)
	}
	log.Info("GitHub accepts the runner image again: minting resumes", "condition", ConditionRunnerOutdated, "image", was.Image)
}

// probeDone ends a probe that gave no verdict (cancelled, or failed for
// another reason): the next probe comes after OutdatedRecheck.
func (s *Source) probeDone() {
	o := &s.outdated
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.probing {
		o.probing, o.since = false, time.Now()
		o.broadcastLocked()
	}
}

func (o *outdatedState) broadcastLocked() {
	if o.changed != nil {
		close(o.changed)
	}
	o.changed = make(chan struct{})
}
