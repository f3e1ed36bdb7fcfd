package gitlab

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// emptyDir removes everything dir holds and keeps dir itself, the same
// directory (device and inode) that a warm container may mount. Links
// are removed, never followed. Anything at dir that is not a directory
// is removed; with create, a missing dir is created (0755).
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
