package helperimage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
)

// Engine is what Ensure needs of a container engine: whether it holds an
// image, and one of the two ways to import one (rootfsImporter,
// archiveImporter).
type Engine interface {
	HasImage(ctx context.Context, name string) (bool, error)
}

// rootfsImporter imports a root filesystem tar as an image, with
// Dockerfile instructions for its configuration (docker import).
type rootfsImporter interface {
	ImportRootfs(ctx context.Context, name string, rootfs io.Reader, changes []string) error
}

// archiveImporter imports an OCI image archive (containerd).
type archiveImporter interface {
	ImportArchive(ctx context.Context, r io.Reader) ([]string, error)
}

// Ensure builds the helper image name from the host and imports it into
// eng unless eng already holds it. It reports whether it built.
func Ensure(ctx context.Context, eng Engine, name string, h Host, log *slog.Logger) (bool, error) {
	ok, err := eng.HasImage(ctx, name)
	if err != nil {
		return false, fmt.Errorf("helperimage: look for %s: %w", name, err)
	}
	if ok {
		return false, nil
	}
	return true, Build(ctx, eng, name, h, log)
}

// Build builds the helper image name from the host and imports it into
// eng, replacing an image of that name.
func Build(ctx context.Context, eng Engine, name string, h Host, log *slog.Logger) error {
	rf, err := Collect(ctx, h)
	if err != nil {
		return fmt.Errorf("sources helper image %s: %w", name, err)
	}
	var layer bytes.Buffer
	if err := rf.WriteTar(&layer); err != nil {
		return err
	}
	cfg := helperConfig()
	switch imp := eng.(type) {
	case rootfsImporter:
		changes, err := cfg.dockerChanges()
		if err != nil {
			return err
		}
		if err := imp.ImportRootfs(ctx, name, &layer, changes); err != nil {
			return fmt.Errorf("sources helper image %s: %w", name, err)
		}
	case archiveImporter:
		var archive bytes.Buffer
		if err := writeOCIArchive(&archive, name, layer.Bytes(), cfg); err != nil {
			return err
		}
		if _, err := imp.ImportArchive(ctx, &archive); err != nil {
			return fmt.Errorf("sources helper image %s: %w", name, err)
		}
	default:
		return fmt.Errorf("sources helper image %s: the engine (%T) cannot import images", name, eng)
	}
	if log != nil {
		log.InfoContext(ctx, fmt.Sprintf("sources helper image %s built from the host's git %s", name, rf.GitVersion),
			"image", name, "git_version", rf.GitVersion, "files", len(rf.files))
	}
	return nil
}
