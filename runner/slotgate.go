package runner

// Work the agent does not start from its own slot loops — GitHub
// scale-set runners, launched when the scale set's messages ask for them —
// still shares the node's concurrent slots and obeys cordon and pause
// through these methods (runner/github/scaleset's Gate).

// TrySlot takes one of the agent's concurrent slots without waiting,
// unless the node is cordoned or paused or every slot is in use. release
// gives the slot back (once; later calls do nothing).
func (a *Agent) TrySlot() (release func(), ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cordoned != "" || len(a.paused) > 0 {
		return nil, false
	}
	select {
	case a.global <- struct{}{}:
	default:
		return nil, false
	}
	done := false
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if done {
			return
		}
		done = true
		<-a.global
		a.notifyLocked()
	}, true
}

// Accepting reports whether the node takes new work (not cordoned, no
// transient condition in force).
func (a *Agent) Accepting() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cordoned == "" && len(a.paused) == 0
}

// Changed is closed at the next change that may let new work start or
// ask idle work to stop: a cordon, a pause or resume, a slot given back
// through TrySlot's release.
func (a *Agent) Changed() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.changed
}

// notifyLocked wakes Changed waiters (a.mu held).
func (a *Agent) notifyLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}
