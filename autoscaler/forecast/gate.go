package forecast

import "time"

// minScoredForGate is how many scored predictions a workflow needs before
// its track record can close its gate.
const minScoredForGate = 20

// gateDecay weighs a workflow's scored windows: each counts this much less
// than the next, so its error follows its last few runs.
const gateDecay = 0.95

// flowGate scores each workflow's own predictions against its arrivals
// and closes the gate on a workflow whose recent error (WAPE, decayed by
// gateDecay per scored window) is above max: its
// predictions are still made and scored, so it reopens once they come
// true again, but they launch nothing meanwhile.
type flowGate struct {
	max  float64 // 0: every gate stays open
	errs map[flowKey]*errorTracker
}

func (g *flowGate) tracker(fk flowKey) *errorTracker {
	if g.errs == nil {
		g.errs = map[flowKey]*errorTracker{}
	}
	t := g.errs[fk]
	if t == nil {
		t = &errorTracker{decay: gateDecay}
		g.errs[fk] = t
	}
	return t
}

// arrived records a new arrival of the workflow's.
func (g *flowGate) arrived(fk flowKey, at time.Time) {
	if g.max > 0 {
		g.tracker(fk).arrived(at)
	}
}

// settle scores every workflow's predictions whose window ended by now.
func (g *flowGate) settle(now time.Time) {
	for _, t := range g.errs {
		t.settle(now)
	}
}

// open reports whether the workflow's predictions may be used.
func (g *flowGate) open(fk flowKey) bool {
	if g.max <= 0 {
		return true
	}
	t := g.errs[fk]
	return t == nil || t.scored < minScoredForGate || t.wape() <= g.max
}

// predicted records what the workflow's runs predicted within the horizon.
func (g *flowGate) predicted(fk flowKey, at time.Time, within time.Duration, total float64) {
	if g.max > 0 {
		g.tracker(fk).predicted(at, within, total)
	}
}
