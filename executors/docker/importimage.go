package docker

import (
	"context"
	"fmt"
	"io"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/runfleet/runfleet/executors"
)

// HasImage reports whether the engine holds the image name.
func (e *Executor) HasImage(ctx context.Context, name string) (bool, error) {
	_, err := e.api.ImageInspect(ctx, name)
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, fmt.Errorf("docker: inspect image %q: %w: %w", name, executors.ErrEngine, err)
}

// ImportRootfs imports the root filesystem tar stream rootfs as the image
// name, configured by Dockerfile instructions (docker import --change):
// how images the agent builds itself get onto the engine.
func (e *Executor) ImportRootfs(ctx context.Context, name string, rootfs io.Reader, changes []string) error {
	rc, err := e.api.ImageImport(ctx, image.ImportSource{Source: rootfs, SourceName: "-"}, name, image.ImportOptions{Changes: changes})
	if err != nil {
		return fmt.Errorf("docker: import %q: %w: %w", name, executors.ErrEngine, err)
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("docker: import %q: %w: %w", name, executors.ErrEngine, err)
	}
	return nil
}
