// Package diskcap gives a directory a hard size limit by mounting a
// filesystem of that size on it: a sparse ext4 image on a loop device
// (disk-backed) or a tmpfs with size= (memory-backed, charged to the
// memory cgroup of whoever writes). Executors use it for the job's
// writable volumes where the storage driver cannot cap the container
// layer (overlay2 without xfs project quotas, containerd's overlayfs).
// It needs root (mount) and, for Loop, mkfs.ext4 and loop devices.
package diskcap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Kind is the filesystem a Cap mounts.
type Kind string

const (
	// Loop is an ext4 filesystem in a sparse image file on a loop device:
	// disk-backed, blocks allocated as they are written.
	Loop Kind = "ext4-loop"
	// Tmpfs is a tmpfs with size=: memory-backed and charged to the
	// memory cgroup of the writer, so it also counts against the job's
	// memory limit.
	Tmpfs Kind = "tmpfs"
)

// ErrUnsupported means the kind cannot be mounted on this host (no
// mkfs.ext4, no loop devices, not root).
var ErrUnsupported = errors.New("size-limited mount unsupported on this host")

// Cap is one size-limited mount.
type Cap struct {
	Dir   string
	Kind  Kind
	Size  int64
	image string // the Loop image file
}

// Mount mounts a filesystem of size bytes of the given kind on dir
// (created if missing; it should be empty: what it holds is hidden). A
// Loop image is the file image, created sparse, removed by Close.
func Mount(ctx context.Context, dir string, size int64, kind Kind, image string) (*Cap, error) {
	if size <= 0 {
		return nil, fmt.Errorf("diskcap: size %d must be positive", size)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("diskcap: %w", err)
	}
	c := &Cap{Dir: dir, Kind: kind, Size: size}
	switch kind {
	case Tmpfs:
		opts := "size=" + strconv.FormatInt(size, 10) + ",mode=0755"
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NODEV|unix.MS_NOSUID, opts); err != nil {
			return nil, fmt.Errorf("diskcap: mount tmpfs on %s: %w: %w", dir, ErrUnsupported, err)
		}
		return c, nil
	case Loop:
		if image == "" {
			return nil, errors.New("diskcap: a loop mount needs an image path")
		}
		c.image = image
		if err := c.mountLoop(ctx); err != nil {
			_ = os.Remove(image)
			return nil, err
		}
		return c, nil
	default:
		return nil, fmt.Errorf("diskcap: unknown kind %q", kind)
	}
}

// mountLoop makes the sparse image, an ext4 filesystem in it without
// reserved blocks or a journal (a job's scratch space needs no crash
// safety), and mounts it with an auto-clearing loop device.
func (c *Cap) mountLoop(ctx context.Context) error {
	f, err := os.OpenFile(c.image, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("diskcap: image: %w", err)
	}
	err = f.Truncate(c.Size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("diskcap: image: %w", err)
	}
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		return fmt.Errorf("diskcap: %w: %w", ErrUnsupported, err)
	}
	out, err := exec.CommandContext(ctx, mkfs, "-q", "-F", "-m", "0", "-O", "^has_journal",
		"-E", "nodiscard,lazy_itable_init=1", c.image).CombinedOutput()
	if err != nil {
		return fmt.Errorf("diskcap: mkfs.ext4: %w: %s", err, strings.TrimSpace(string(out)))
	}
	out, err = exec.CommandContext(ctx, "mount", "-t", "ext4", "-o", "loop,nodev,nosuid", c.image, c.Dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("diskcap: mount %s: %w: %w: %s", c.image, ErrUnsupported, err, strings.TrimSpace(string(out)))
	}
	_ = os.Remove(filepath.Join(c.Dir, "lost+found"))
	return nil
}

// Close unmounts the filesystem (lazily when it is still busy) and
// removes the image. Its content is gone. Safe to call twice.
func (c *Cap) Close() error {
	return Unmount(c.Dir, c.image)
}

// Unmount unmounts whatever is mounted on dir and removes image (if not
// empty): Close for a Cap that a crashed process left behind. A dir
// that is not a mount point is fine.
func Unmount(dir, image string) error {
	var errs []error
	if err := unix.Unmount(dir, 0); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("diskcap: unmount %s: %w", dir, err))
		}
	}
	if image != "" {
		if err := os.Remove(image); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("diskcap: %w", err))
		}
	}
	return errors.Join(errs...)
}
