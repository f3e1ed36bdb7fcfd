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
	"runtime"
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
//
// r must allow concurrent ReadAt calls (as *os.File and *bytes.Reader do):
// regular files are inflated and written by a few goroutines at once. The
// result is the tree a sequential extraction in archive order would give.
// Nothing is fsynced: a restored cache lives in a job's build directory,
// which a crash throws away with the job, so durability would only cost.
func Extract(ctx context.Context, r io.ReaderAt, size int64, root string) (Stats, error) {
	return extract(ctx, r, size, root, extractWorkers())
}

// extract is Extract with the number of goroutines that write file
// contents (1 writes everything in archive order on the calling goroutine).
//
// One goroutine, the planner, walks the entries in archive order and does
// everything that touches names: directories, symlinks, removals and the
// creation of each regular file. Workers only fill files the planner has
// already opened, through their descriptors, reading each entry with its
// own reader over r (an io.ReaderAt serves concurrent reads). So the
// namespace changes exactly as a sequential extraction would change it, and
// a worker can never be steered to another file by a later entry.
func extract(ctx context.Context, r io.ReaderAt, size int64, root string, workers int) (Stats, error) {
	var stats Stats
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return stats, fmt.Errorf("archive: %w: %w", ErrInvalidArchive, err)
	}
	var inf inflaters
	zr.RegisterDecompressor(zip.Deflate, inf.decompressor)
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
	x := &extractor{root: rt, dirs: map[string]*os.Root{".": rt}, written: map[string]struct{}{}}
	defer x.close()

	if !fdTimes {
		workers = 1
	}
	pctx, p := newFilePool(ctx, workers)
	err = x.plan(pctx, zr.File, names, p, &stats)
	if err != nil {
		// Stop at once: files still queued are left empty.
		p.cancel()
	}
	werr := p.wait()
	stats.Bytes += p.bytes
	switch {
	case werr != nil && (err == nil || errors.Is(err, context.Canceled)):
		// A worker's failure cancels the planner: report the cause, not
		// the cancellation it led to.
		return stats, werr
	case err != nil:
		return stats, err
	}
	// Children changed their parents' mtimes; set directories last, deepest first.
	slices.Reverse(x.dirTimes)
	for _, d := range x.dirTimes {
		if err := rt.Chtimes(d.name, d.mod, d.mod); err != nil {
			stats.warnf("%s: set mtime: %v", d.name, err)
		}
	}
	return stats, nil
}

// extractWorkers is how many files Extract fills at once: inflating is CPU
// bound and writing mostly so (the page cache), so about one per CPU, with
// at least two so that one file's system calls overlap another's inflate.
func extractWorkers() int {
	return min(max(runtime.GOMAXPROCS(0), 2), 8)
}

// plan walks the entries in archive order, applying every change to names
// itself and handing opened regular files to p.
func (x *extractor) plan(ctx context.Context, files []*zip.File, names []string, p *filePool, stats *Stats) error {
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		name := names[i]
		if name == "." {
			continue
		}
		mode := f.Mode()
		switch mode.Type() {
		case fs.ModeDir:
			if err := x.dir(name, mode); err != nil {
				return fmt.Errorf("archive: %s: %w", name, err)
			}
			if !f.Modified.IsZero() {
				x.dirTimes = append(x.dirTimes, dirTime{name, f.Modified})
			}
		case fs.ModeSymlink:
			if err := x.symlink(f, name); err != nil {
				return fmt.Errorf("archive: %s: %w", name, err)
			}
			stats.Files++
		case 0:
			job, err := x.file(f, name)
			if err != nil {
				return fmt.Errorf("archive: %s: %w", name, err)
			}
			p.submit(ctx, job)
			stats.Files++
		default:
			stats.warnf("%s: skipping special file (%s)", name, mode.Type())
		}
	}
	return nil
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
	// written holds the names of regular files created by this extraction,
	// whose contents a worker may still be writing: a later entry of the
	// same name gets a new inode rather than truncating that one.
	written  map[string]struct{}
	dirTimes []dirTime
}

type dirTime struct {
	name string
	mod  time.Time
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

// file creates (or empties) the regular file name and returns the job
// that fills it. The file is open, so where the job runs later no longer
// matters: what is at name by then cannot change what it writes.
func (x *extractor) file(f *zip.File, name string) (*fileJob, error) {
	d, base, err := x.parent(name)
	if err != nil {
		return nil, err
	}
	out, err := x.openForWrite(d, base, name)
	if err != nil {
		return nil, err
	}
	x.written[name] = struct{}{}
	return &fileJob{zf: f, name: name, out: out, dir: d, base: base}, nil
}

// openForWrite returns base in d open for writing and empty. A new name
// is created with O_EXCL; an existing regular file with a single link is
// truncated in place (much cheaper than a new inode) unless this
// extraction wrote it; anything else there is removed first and the file
// created with O_EXCL, so a symlink or hard link is never written through.
func (x *extractor) openForWrite(d *os.Root, base, name string) (*os.File, error) {
	const create = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	_, again := x.written[name]
	if !again {
		// The common case, an empty build directory: one system call.
		f, err := d.OpenFile(base, create, 0o600)
		if err == nil || !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	info, err := d.Lstat(base)
	if err == nil && info.Mode().IsRegular() && !again {
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
	return d.OpenFile(base, create, 0o600)
}
