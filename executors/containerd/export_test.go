package containerd

import (
	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/internal/proctree"
)

// HideProcs makes env's processes invisible to the executor, as from
// another PID namespace, for tests of the fallbacks.
func HideProcs(env executors.Env) { env.(*Env).procs = proctree.Procs{} }

// WarmReady is how many warm network namespaces the pool holds ready.
func WarmReady(e *Executor) int { return e.warm.Ready() }
