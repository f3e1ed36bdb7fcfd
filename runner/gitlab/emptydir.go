package gitlab

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// emptyDir removes everything dir holds and keeps dir itself, the same
// directory (device and inode) that a warm container may mount. Links
// are removed, never followed. What a job could change about the
// directory itself goes back to a new directory's: owner the agent,
// mode 0755, no ACL. Anything at dir that is not a directory is
// removed; with create, a missing dir is created (0755).
func emptyDir(dir string, create bool) error {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !create {
			return nil
		}
		return os.Mkdir(dir, 0o755)
	case err != nil:
		return err
	case !fi.IsDir():
		if err := os.Remove(dir); err != nil {
			return err
		}
		if !create {
			return nil
		}
		return os.Mkdir(dir, 0o755)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, resetDir(dir))...)
}

// resetDir gives dir a new directory's owner (the agent), mode (0755)
// and no ACL, whatever a job set on it.
func resetDir(dir string) error {
	var errs []error
	if err := os.Lchown(dir, os.Getuid(), os.Getgid()); err != nil {
		errs = append(errs, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		errs = append(errs, err)
	}
	for _, attr := range []string{"system.posix_acl_access", "system.posix_acl_default"} {
		if err := unix.Lremovexattr(dir, attr); err != nil && !errors.Is(err, unix.ENODATA) && !errors.Is(err, unix.ENOTSUP) {
			errs = append(errs, fmt.Errorf("remove %s of %s: %w", attr, dir, err))
		}
	}
	return errors.Join(errs...)
}

// writeNew writes data to a file that must not exist yet (0644): a link
// planted at path fails the write instead of being followed.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
