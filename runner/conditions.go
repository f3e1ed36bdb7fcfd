package runner

import (
	"maps"
	"slices"
	"sync"
)

// ConditionReporter is implemented by sources that raise node conditions
// of their own without pausing the node, e.g. a GitHub source whose runner
// image GitHub refuses as outdated (RunnerOutdated): the other sources go
// on taking jobs. NewAgent hands each such source a set function; a
// condition is in force while any source reports it on.
type ConditionReporter interface {
	ReportConditions(set func(condition string, on bool))
}

// reportedConditions are the conditions sources report, by condition and
// source. The zero value is ready.
type reportedConditions struct {
	mu sync.Mutex
	on map[string]map[string]bool // condition → sources reporting it
}

// wireConditionReporters gives every ConditionReporter source its set
// function: conditions show in Status and as runfleet_node_condition.
func (a *Agent) wireConditionReporters() {
	for _, src := range a.sources {
		if r, ok := src.(ConditionReporter); ok {
			name := src.Name()
			r.ReportConditions(func(condition string, on bool) { a.reportCondition(name, condition, on) })
		}
	}
}

func (a *Agent) reportCondition(source, condition string, on bool) {
	rc := &a.reported
	rc.mu.Lock()
	was := len(rc.on[condition]) > 0
	if on {
		if rc.on == nil {
			rc.on = map[string]map[string]bool{}
		}
		if rc.on[condition] == nil {
			rc.on[condition] = map[string]bool{}
		}
		rc.on[condition][source] = true
	} else {
		delete(rc.on[condition], source)
	}
	now := len(rc.on[condition]) > 0
	rc.mu.Unlock()
	if was != now {
		a.metrics.setCondition(condition, now)
		if now {
			a.logger.Warn("node condition raised by a runner; the other runners go on", "condition", condition, "runner", source)
		} else {
			a.logger.Info("node condition cleared", "condition", condition, "runner", source)
		}
	}
}

// list is the reported conditions in force, sorted.
func (rc *reportedConditions) list() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, c := range slices.Sorted(maps.Keys(rc.on)) {
		if len(rc.on[c]) > 0 {
			out = append(out, c)
		}
	}
	return out
}
