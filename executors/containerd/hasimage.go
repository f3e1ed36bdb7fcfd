package containerd

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
)

// HasImage reports whether the executor's namespace holds the image name.
func (e *Executor) HasImage(ctx context.Context, name string) (bool, error) {
	ref, err := normalizeRef(name)
	if err != nil {
		return false, fmt.Errorf("containerd: image %q: %w", name, err)
	}
	_, err = e.client.GetImage(e.withNS(ctx), ref)
	if err == nil {
		return true, nil
	}
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	return false, engineErr("get image "+ref, err)
}
