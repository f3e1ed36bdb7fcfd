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
// files are replaced, never written through a symlink or a hard link; modes
// keep only the permission bits (no setuid, setgid or sticky), directories
// stay owner-writable, and file and directory mtimes are restored.
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
	x := &extractor{root: rt, dirs: map[string]*os.Root{".": rt}, buf: make([]byte, 256<<10)}
	defer x.close()

	type dirTime struct {
		name string
		mod  time.Time
	}
	var dirs []dirTime
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
			if err := x.dir(name, mode); err != nil {
				return stats, fmt.Errorf("archive: %s: %w", name, err)
			}
			dirs = append(dirs, dirTime{name, f.Modified})
		case fs.ModeSymlink:
			if err := x.symlink(f, name); err != nil {
				return stats, fmt.Errorf("archive: %s: %w", name, err)
			}
			stats.Files++
		case 0:
			n, err := x.file(ctx, f, name)
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

// extractor writes entries below one root. It keeps the directories it
// has opened (each an os.Root beneath the root, so still confined) to spare
// a path walk per file; removing anything forgets the affected ones.
type extractor struct {
	root *os.Root
	dirs map[string]*os.Root
	buf  []byte
}

func (x *extractor) close() {
	for _, d := range x.dirs {
		d.Close()
	}
}

// parent returns the opened directory that holds name, creating it.
func (x *extractor) parent(name string) (*os.Root, string, error) {
	dir, base := path.Split(name)
	dir = path.Clean(dir)
	if d, ok := x.dirs[dir]; ok {
		return d, base, nil
	}
	if err := x.root.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	d, err := x.root.OpenRoot(dir)
	if err != nil {
		return nil, "", err
	}
	x.dirs[dir] = d
	return d, base, nil
}

// remove deletes whatever is at base in d (name is its path from the root)
// and forgets opened directories at or below it.
func (x *extractor) remove(d *os.Root, base, name string) error {
	if err := d.RemoveAll(base); err != nil {
		return err
	}
	for k, sub := range x.dirs {
		if k == name || strings.HasPrefix(k, name+"/") {
			sub.Close()
			delete(x.dirs, k)
		}
	}
	return nil
}

func (x *extractor) dir(name string, mode fs.FileMode) error {
	d, base, err := x.parent(name)
	if err != nil {
		return err
	}
	info, err := d.Lstat(base)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case info.IsDir():
	case info.Mode().Type() == fs.ModeSymlink && isDirIn(d, base):
		// A link to a directory inside the root serves as the directory.
	default:
		if err := x.remove(d, base, name); err != nil {
			return err
		}
	}
	perm := mode.Perm() | 0o700
	if err := d.MkdirAll(base, perm); err != nil {
		return err
	}
	return d.Chmod(base, perm)
}

func isDirIn(d *os.Root, base string) bool {
	st, err := d.Stat(base)
	return err == nil && st.IsDir()
}

func (x *extractor) symlink(f *zip.File, name string) error {
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
	d, base, err := x.parent(name)
	if err != nil {
		return err
	}
	if _, err := d.Lstat(base); err == nil {
		if err := x.remove(d, base, name); err != nil {
			return err
		}
	}
	if err := checkSymlink(x.root, name, target); err != nil {
		return err
	}
	return d.Symlink(target, base)
}

func (x *extractor) file(ctx context.Context, f *zip.File, name string) (int64, error) {
	d, base, err := x.parent(name)
	if err != nil {
		return 0, err
	}
	out, err := x.openForWrite(d, base, name)
	if err != nil {
		return 0, err
	}
	rc, err := f.Open()
	if err != nil {
		out.Close()
		return 0, fmt.Errorf("%w: %w", ErrInvalidArchive, err)
	}
	n, err := copyContext(ctx, out, rc, x.buf)
	rc.Close()
	if err == nil {
		err = out.Chmod(f.Mode().Perm())
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	if !f.Modified.IsZero() {
		if err := d.Chtimes(base, f.Modified, f.Modified); err != nil {
			return n, err
		}
	}
	return n, nil
}

// openForWrite returns base in d open for writing and empty. An existing
// regular file with a single link is truncated in place (much cheaper than
// a new inode); anything else there is removed first and the file created
// with O_EXCL, so a symlink or hard link is never written through.
func (x *extractor) openForWrite(d *os.Root, base, name string) (*os.File, error) {
	info, err := d.Lstat(base)
	if err == nil && info.Mode().IsRegular() {
		f, err := d.OpenFile(base, os.O_WRONLY, 0)
		if err == nil {
			// Checked on the open file: the name may have changed since Lstat.
			if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && singleLink(st) && os.SameFile(st, info) {
				if err := f.Truncate(0); err != nil {
					f.Close()
					return nil, err
				}
				return f, nil
			}
			f.Close()
		}
	}
	if err == nil {
		if err := x.remove(d, base, name); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return d.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}
