package docker

import (
	"errors"

	cerrdefs "github.com/containerd/errdefs"
)

// ErrEnvClosed is returned by Exec on an Env that was closed.
var ErrEnvClosed = errors.New("docker: environment is closed")

// isNotFound reports whether err is the engine's "no such object".
func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }
