package docker

// WarmReady is how many warm networks the pool holds ready for a job:
// the engine lists a network before its creation call returns, so tests
// wait on this rather than on the engine's list.
func WarmReady(e *Executor) int { return e.warm.Ready() }
