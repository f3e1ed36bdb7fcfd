package archive

import (
	"archive/zip"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Create writes a zip archive of the paths sel selects under root to w and
// reports what it stored. Entries are sorted by name, so the same tree gives
// the same archive. Directories, regular files (mode and mtime kept) and
// symlinks (stored as links, never followed) are archived; other file types
// are skipped with a warning. A pattern that matches nothing is a warning,
// a pattern that is absolute or contains ".." is an ErrUnsafePath error.
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
	// Caches favour speed over ratio. Entries are written one at a time, so
	// one compressor, reset per entry, serves them all (a flate.Writer costs
	// about a megabyte to allocate).
	var fw *flate.Writer
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		if fw == nil {
			var err error
			fw, err = flate.NewWriter(out, flate.BestSpeed)
			return fw, err
		}
		fw.Reset(out)
		return fw, nil
	})
	buf := make([]byte, 256<<10)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return stats, fmt.Errorf("archive: %w", err)
		}
		if err := writeEntry(ctx, zw, rt, name, col.entries[name], &stats, buf); err != nil {
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
	hdr.Method = zip.Deflate
	zf, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	n, err := copyContext(ctx, zf, f, buf)
	if err != nil {
		return err
	}
	stats.Files++
	stats.Bytes += n
	return nil
}
