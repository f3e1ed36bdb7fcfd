package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	units "github.com/docker/go-units"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/diskcap"
)

// volumePrefix starts the names of per-job volume directories in a job's
// state directory.
const volumePrefix = "vol"

// makeVolumes creates the per-job volume directories of spec under dir
// (volumes[i] for spec mount i, "" for binds). With a DiskSize each is a
// size-limited filesystem of its own: a sparse ext4 image on a loop
// device (disk-backed, ~60 ms), or a tmpfs where loop devices are not
// available. It returns the job-log notes on what is capped.
func (e *Executor) makeVolumes(ctx context.Context, dir string, spec executors.Spec) ([]string, []string, error) {
	size := spec.Resources.DiskSize
	volumes := make([]string, len(spec.Mounts))
	kinds := map[diskcap.Kind][]string{}
	for i, m := range spec.Mounts {
		if !m.Volume {
			continue
		}
		volumes[i] = filepath.Join(dir, fmt.Sprintf("%s%d", volumePrefix, i))
		if err := os.MkdirAll(volumes[i], 0o755); err != nil {
			return nil, nil, fmt.Errorf("containerd: volume: %w: %w", executors.ErrEngine, err)
		}
		if size <= 0 {
			continue
		}
		kind := diskcap.Loop
		_, err := diskcap.Mount(ctx, volumes[i], size, kind, volumes[i]+".img")
		if errors.Is(err, diskcap.ErrUnsupported) {
			e.log.WarnContext(ctx, "no loop devices for a disk-backed volume cap; using tmpfs", "err", err)
			kind = diskcap.Tmpfs
			_, err = diskcap.Mount(ctx, volumes[i], size, kind, "")
		}
		if err != nil {
			return nil, nil, fmt.Errorf("containerd: size-limited volume: %w: %w", executors.ErrEngine, err)
		}
		kinds[kind] = append(kinds[kind], m.Target)
	}
	if size <= 0 {
		return volumes, nil, nil
	}
	human := units.BytesSize(float64(size))
	notes := []string{fmt.Sprintf("Disk: the container's writable layer is NOT capped: containerd's %s snapshotter cannot enforce a size", e.snapshotter)}
	for _, k := range []struct {
		kind diskcap.Kind
		what string
	}{{diskcap.Loop, "ext4 on a loop device"}, {diskcap.Tmpfs, "tmpfs, counted in the job's memory"}} {
		if t := kinds[k.kind]; len(t) > 0 {
			notes = append(notes, fmt.Sprintf("Disk: per-job volumes %s are capped at %s each (%s)", strings.Join(t, ", "), human, k.what))
		}
	}
	return volumes, notes, nil
}

// unmountVolumes unmounts the size-limited volumes in a job's state
// directory (a plain directory is fine), so it can be removed.
func unmountVolumes(dir string, entries []os.DirEntry) error {
	var errs []error
	for _, de := range entries {
		if de.IsDir() && strings.HasPrefix(de.Name(), volumePrefix) {
			p := filepath.Join(dir, de.Name())
			if err := diskcap.Unmount(p, ""); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
