package archive

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/klauspost/compress/flate"
)

// Create writes a zip archive of the paths sel selects under root to w and
// reports what it stored. Entries are sorted by name, so the same tree gives
// the same archive. Directories, regular files (mode and mtime kept) and
// symlinks (stored as links, never followed) are archived; other file types
// are skipped with a warning. A pattern that matches nothing is a warning,
// a pattern that is absolute or contains ".." is an ErrUnsafePath error.
//
// Files are deflated at the fastest level, except content that is already
// compressed (known extensions, or a high-entropy head) and small files
// deflate cannot shrink, which are stored. Small files are read and
// compressed by a few goroutines ahead of the writer; the archive does not
// depend on their timing. The archive is an ordinary zip, as gitlab-runner
// writes and reads them.
func Create(ctx context.Context, w io.Writer, root string, sel Selection) (Stats, error) {
	var stats Stats
	patterns := make([]string, 0, len(sel.Paths))
	for _, p := range sel.Paths {
		c, err := cleanPattern(p)
		if err != nil {
			return stats, fmt.Errorf("archive: paths: %w", err)
		}
		patterns = append(patterns, c)
	}
	rt, err := os.OpenRoot(root)
	if err != nil {
		return stats, fmt.Errorf("archive: open root: %w", err)
	}
	defer rt.Close()

	col, err := newCollector(rt, sel.Exclude, &stats)
	if err != nil {
		return stats, fmt.Errorf("archive: %w", err)
	}
	for i, p := range patterns {
		n, err := col.addPattern(ctx, p)
		if err != nil {
			return stats, fmt.Errorf("archive: %s: %w", sel.Paths[i], err)
		}
		if n == 0 {
			stats.warnf("%s: no matching files", sel.Paths[i])
		}
	}
	if sel.Untracked {
		abs, err := filepath.Abs(root)
		if err != nil {
			return stats, fmt.Errorf("archive: %w", err)
		}
		if err := col.addUntracked(ctx, abs); err != nil {
			return stats, fmt.Errorf("archive: %w", err)
		}
	}

	names := make([]string, 0, len(col.entries))
	for name := range col.entries {
		names = append(names, name)
	}
	slices.Sort(names)

	zw := zip.NewWriter(w)
	// Caches favour speed over ratio. Small files are read and deflated by
	// workers ahead of the writer (see packer); their compressed bytes
	// reach the zip through replay. Larger files are deflated here, one at
	// a time, so one compressor, reset per entry, serves them all (a
	// flate.Writer costs about a megabyte to allocate).
	var fw *flate.Writer
	var pre *replay // compressed body of the next entry, from a worker
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		if pre != nil {
			r := pre
			pre, r.out = nil, out
			return r, nil
		}
		if fw == nil {
			var err error
			fw, err = flate.NewWriter(out, flate.BestSpeed)
			return fw, err
		}
		fw.Reset(out)
		return fw, nil
	})
	pctx, cancel := context.WithCancel(ctx)
	pk := startPacker(pctx, rt, names, col.entries)
	defer pk.wait()
	defer cancel()
	buf := make([]byte, copyBufSize)
	for i, name := range names {
		if err := ctx.Err(); err != nil {
			return stats, fmt.Errorf("archive: %w", err)
		}
		var err error
		if pk.slots[i] == nil {
			err = writeEntry(ctx, zw, rt, name, col.entries[name], &stats, buf)
		} else {
			err = writePacked(ctx, zw, rt, pk, i, name, col.entries[name], &stats, buf, &pre)
		}
		if err != nil {
			return stats, fmt.Errorf("archive: %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return stats, fmt.Errorf("archive: finish zip: %w", err)
	}
	return stats, nil
}

// writeEntry adds one collected entry to the zip.
func writeEntry(ctx context.Context, zw *zip.Writer, rt *os.Root, name string, info fs.FileInfo, stats *Stats, buf []byte) error {
	switch info.Mode().Type() {
	case fs.ModeDir:
		hdr := &zip.FileHeader{Name: name + "/", Method: zip.Store, Modified: info.ModTime()}
		hdr.SetMode(info.Mode())
		_, err := zw.CreateHeader(hdr)
		return err
	case fs.ModeSymlink:
		target, err := rt.Readlink(name)
		if err != nil {
			stats.warnf("%s: %v", name, err)
			return nil
		}
		hdr := &zip.FileHeader{Name: name, Method: zip.Store, Modified: info.ModTime()}
		hdr.SetMode(info.Mode())
		zf, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(zf, target); err != nil {
			return err
		}
		stats.Files++
		return nil
	default:
		return writeFile(ctx, zw, rt, name, info, stats, buf)
	}
}

// writePacked adds a small regular file a worker has read and compressed.
func writePacked(ctx context.Context, zw *zip.Writer, rt *os.Root, pk *packer, i int, name string, listed fs.FileInfo, stats *Stats, buf []byte, pre **replay) error {
	r, err := pk.next(ctx, i)
	if err != nil {
		return err
	}
	defer pk.done(r)
	switch {
	case r.err != nil:
		return r.err
	case r.warn != "":
		stats.warnf("%s", r.warn)
		return nil
	case r.stream:
		return writeFile(ctx, zw, rt, name, listed, stats, buf)
	}
	hdr, err := zip.FileInfoHeader(r.info)
	if err != nil {
		return err
	}
	hdr.Name = name
	hdr.Method = r.method
	if r.method == zip.Deflate && r.comp != nil {
		// The zip writer writes the body when it closes the entry, at the
		// next entry or at the end: the buffer goes with the replay.
		*pre = &replay{comp: r.comp, pool: &pk.bufs}
		r.comp = nil
	}
	zf, err := zw.CreateHeader(hdr)
	if err != nil {
		*pre = nil
		return err
	}
	if _, err := zf.Write(r.raw); err != nil {
		return err
	}
	stats.Files++
	stats.Bytes += int64(len(r.raw))
	return nil
}

// writeFile adds a regular file. The file is opened through the root and
// checked to be the very file that was listed, so swapping it for a symlink
// between listing and reading cannot smuggle other content in.
func writeFile(ctx context.Context, zw *zip.Writer, rt *os.Root, name string, listed fs.FileInfo, stats *Stats, buf []byte) error {
	f, err := rt.Open(name)
	if err != nil {
		stats.warnf("%s: %v", name, err)
		return nil
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() || !os.SameFile(info, listed) {
		stats.warnf("%s: changed while archiving, skipped", name)
		return nil
	}
	hdr, err := zip.FileInfoHeader(info)
	if err != nil {
		return err
	}
	hdr.Name = name
	// The first buffer of content decides how the entry is stored.
	head, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	hdr.Method = chooseMethod(name, buf[:head])
	zf, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	if _, err := zf.Write(buf[:head]); err != nil {
		return err
	}
	n := int64(head)
	if head == len(buf) {
		m, err := copyContext(ctx, zf, f, buf)
		n += m
		if err != nil {
			return err
		}
	}
	stats.Files++
	stats.Bytes += n
	return nil
}
