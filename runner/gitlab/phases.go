package gitlab

import (
	"log/slog"
	"sync"
	"time"
)

// jobPhases records when a job reached each phase of its run, from the
// moment GitLab handed it out, and logs them at debug level when the job
// is done: where a job's start and turnaround time goes. A nil
// *jobPhases records nothing.
type jobPhases struct {
	now   func() time.Time
	start time.Time

	mu    sync.Mutex
	marks []any // slog attributes: phase → time since start
}

func newJobPhases(now func() time.Time) *jobPhases {
	return &jobPhases{now: now, start: now()}
}

// mark records that the job reached phase now.
func (p *jobPhases) mark(phase string) {
	if p == nil {
		return
	}
	d := p.now().Sub(p.start)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.marks = append(p.marks, slog.Duration(phase, d))
}

// log writes the phases reached.
func (p *jobPhases) log(l *slog.Logger) {
	if p == nil || l == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	l.Debug("job phases since hand-out", p.marks...)
}
