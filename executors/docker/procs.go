package docker

import "github.com/runfleet/runfleet/executors/internal/proctree"

// containerProcs locates the job container's processes and memory cgroup
// on the host (see package proctree).
type containerProcs = proctree.Procs

// newContainerProcs inspects the container whose PID 1 is initPID.
func newContainerProcs(initPID int) containerProcs { return proctree.New(initPID) }
