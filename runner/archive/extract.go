package archive

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// maxLinkTarget bounds the size of a symlink entry's content (PATH_MAX).
const maxLinkTarget = 4096

// Extract unpacks the zip archive in r (size bytes) into root, creating root
// if needed, and reports what it wrote.
//
// It is safe against hostile archives: every name is checked before
// anything is written (absolute names, "..", NUL are ErrUnsafePath), all
// writes go through an os.Root so no symlink, whether in the archive or
// already in root, can carry a write outside root, and symlink entries whose
// target resolves outside root are refused with ErrUnsafePath. Existing
// files are replaced (never written through), modes keep only the
// permission bits (no setuid, setgid or sticky), directories stay
// owner-writable, and file and directory mtimes are restored.
func Extract(ctx context.Context, r io.ReaderAt, size int64, root string) (Stats, error) {
	var stats Stats
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return stats, fmt.Errorf("archive: %w: %w", ErrInvalidArchive, err)
	}
	names := make([]string, len(zr.File))
	for i, f := range zr.File {
		n, err := entryName(f.Name)
		if err != nil {
			return stats, fmt.Errorf("archive: %w", err)
		}
		names[i] = n
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return stats, fmt.Errorf("archive: create root: %w", err)
	}
	rt, err := os.OpenRoot(root)
	if err != nil {
		return stats, fmt.Errorf("archive: open root: %w", err)
	}
	defer rt.Close()

	type dirTime struct {
		name string
		mod  time.Time
	}
	var dirs []dirTime
	buf := make([]byte, 256<<10)
	for i, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return stats, fmt.Errorf("archive: %w", err)
		}
		name := names[i]
		if name == "." {
			continue
		}
		mode := f.Mode()
		switch mode.Type() {
		case fs.ModeDir:
			if err := extractDir(rt, name, mode); err != nil {
				return stats, fmt.Errorf("archive: %s: %w", name, err)
			}
			dirs = append(dirs, dirTime{name, f.Modified})
		case fs.ModeSymlink:
			if err := extractSymlink(rt, f, name); err != nil {
				return stats, fmt.Errorf("archive: %s: %w", name, err)
			}
			stats.Files++
		case 0:
			n, err := extractFile(ctx, rt, f, name, buf)
			if err != nil {
				return stats, fmt.Errorf("archive: %s: %w", name, err)
			}
			stats.Files++
			stats.Bytes += n
		default:
			stats.warnf("%s: skipping special file (%s)", name, mode.Type())
		}
	}
	// Children changed their parents' mtimes; set directories last, deepest first.
	slices.Reverse(dirs)
	for _, d := range dirs {
		if d.mod.IsZero() {
			continue
		}
		if err := rt.Chtimes(d.name, d.mod, d.mod); err != nil {
			stats.warnf("%s: set mtime: %v", d.name, err)
		}
	}
	return stats, nil
}

// entryName validates an archive entry name and returns it cleaned, slash
// separated and without a trailing slash ("." for the root itself).
func entryName(name string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: entry %q %s", ErrUnsafePath, name, why)
	}
	switch {
	case name == "":
		return "", bad("has an empty name")
	case strings.ContainsRune(name, 0):
		return "", bad("contains NUL")
	case strings.HasPrefix(name, "/"), strings.HasPrefix(name, `\`):
		return "", bad("is absolute")
	case len(name) >= 2 && name[1] == ':':
		return "", bad("has a drive letter")
	}
	// Backslashes are ordinary characters on Unix, but an archive made on
	// Windows may mean them as separators: refuse ".." in either reading.
	for _, seg := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return "", bad(`contains ".."`)
		}
	}
	return path.Clean(name), nil
}

// clearFor removes whatever is at name unless it is a directory (or a
// symlink to one, inside the root) and keepDir is set.
func clearFor(rt *os.Root, name string, keepDir bool) error {
	info, err := rt.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if keepDir {
		if info.IsDir() {
			return nil
		}
		if st, err := rt.Stat(name); err == nil && st.IsDir() {
			return nil
		}
	}
	return rt.RemoveAll(name)
}

func parentOf(name string) string {
	return path.Dir(name)
}

func extractDir(rt *os.Root, name string, mode fs.FileMode) error {
	if err := clearFor(rt, name, true); err != nil {
		return err
	}
	perm := mode.Perm() | 0o700
	if err := rt.MkdirAll(name, perm); err != nil {
		return err
	}
	return rt.Chmod(name, perm)
}

func extractSymlink(rt *os.Root, f *zip.File, name string) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArchive, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxLinkTarget+1))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArchive, err)
	}
	if len(b) > maxLinkTarget {
		return fmt.Errorf("%w: symlink target longer than %d bytes", ErrInvalidArchive, maxLinkTarget)
	}
	target := string(b)
	if err := rt.MkdirAll(parentOf(name), 0o755); err != nil {
		return err
	}
	if err := clearFor(rt, name, false); err != nil {
		return err
	}
	if err := checkSymlink(rt, name, target); err != nil {
		return err
	}
	return rt.Symlink(target, name)
}

func extractFile(ctx context.Context, rt *os.Root, f *zip.File, name string, buf []byte) (int64, error) {
	if err := rt.MkdirAll(parentOf(name), 0o755); err != nil {
		return 0, err
	}
	if err := clearFor(rt, name, false); err != nil {
		return 0, err
	}
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidArchive, err)
	}
	defer rc.Close()
	// O_EXCL: whatever was there is gone, so a symlink planted in the
	// meantime makes this fail rather than be written through.
	out, err := rt.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := copyContext(ctx, out, rc, buf)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	if err := rt.Chmod(name, f.Mode().Perm()); err != nil {
		return n, err
	}
	if !f.Modified.IsZero() {
		if err := rt.Chtimes(name, f.Modified, f.Modified); err != nil {
			return n, err
		}
	}
	return n, nil
}
