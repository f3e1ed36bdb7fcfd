package docker

import (
	cerrdefs "github.com/containerd/errdefs"

	"github.com/runfleet/runfleet/executors"
)

// ErrEnvClosed is executors.ErrEnvClosed, the one error of every
// executor for an Exec on a closed Env.
var ErrEnvClosed = executors.ErrEnvClosed

// isNotFound reports whether err is the engine's "no such object".
func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }
