package scaleset

import "context"

// Gate is the agent's side of standalone scale-set runners
// (*runner.Agent implements it): they take the node's shared concurrent
// slots, and a cordoned or paused node starts none — its idle runners are
// retired while busy ones finish their jobs.
type Gate interface {
	// TrySlot takes a slot without waiting; ok is false when none is free
	// or the node takes no new work. release gives it back.
	TrySlot() (release func(), ok bool)
	// Accepting reports whether the node takes new work.
	Accepting() bool
	// Changed is closed at the next change of the above.
	Changed() <-chan struct{}
}

// followGate rescales whenever the gate changes: a cordon retires idle
// runners at once, a freed slot or a resume launches up to the demand.
func (s *scaler) followGate(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.l.gate.Changed():
		}
		if _, err := s.scale(ctx); err != nil && ctx.Err() == nil {
			s.l.log.Warn("rescaling after a node state change", "err", err)
		}
	}
}
