package cache

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/runfleet/runfleet/runner/archive"
)

// Restore extracts the first cache found among keys (the job's key, then
// its fallback keys, in order) into root and returns the key that hit.
//
// A key whose store read fails for another reason than a miss is skipped
// and the next one tried; if none hits, the error joins those failures, or
// wraps ErrMiss (so fs.ErrNotExist) when every key simply missed. An
// extraction failure stops at once: root may hold part of that archive.
func Restore(ctx context.Context, store Getter, keys []Key, root string) (Key, error) {
	var failures []error
	for _, k := range keys {
		rc, size, err := store.Get(ctx, k)
		if isMiss(err) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return Key{}, fmt.Errorf("cache: restore: %w", err)
			}
			failures = append(failures, err)
			continue
		}
		_, err = extract(ctx, rc, size, root)
		rc.Close()
		if err != nil {
			return Key{}, fmt.Errorf("cache: restore %s/%s: %w", k.Project, k.Name, err)
		}
		return k, nil
	}
	if len(failures) > 0 {
		return Key{}, fmt.Errorf("cache: restore: %w", errors.Join(failures...))
	}
	return Key{}, fmt.Errorf("cache: restore: none of %d keys found: %w", len(keys), ErrMiss)
}

// extract unpacks an archive from a store reader, spooling it to a
// temporary file first when the reader cannot be read at random.
func extract(ctx context.Context, rc io.Reader, size int64, root string) (archive.Stats, error) {
	if ra, ok := rc.(io.ReaderAt); ok && size >= 0 {
		return archive.Extract(ctx, ra, size, root)
	}
	tmp, err := os.CreateTemp("", "runfleet-cache-*.zip")
	if err != nil {
		return archive.Stats{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := copyContext(ctx, tmp, rc)
	if err != nil {
		return archive.Stats{}, err
	}
	return archive.Extract(ctx, tmp, n, root)
}

// Save archives the paths sel selects under root and stores the archive
// under key. The archive is built in a temporary file first, so a failed
// or cancelled build never reaches the store. When nothing matched, no
// archive is stored (an existing cache is kept) and Stats carries a warning.
func Save(ctx context.Context, store Putter, key Key, root string, sel archive.Selection) (archive.Stats, error) {
	if _, err := key.Path(); err != nil {
		return archive.Stats{}, fmt.Errorf("cache: save: %w", err)
	}
	tmp, err := os.CreateTemp("", "runfleet-cache-*.zip")
	if err != nil {
		return archive.Stats{}, fmt.Errorf("cache: save: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	bw := bufio.NewWriterSize(tmp, 1<<20)
	stats, err := archive.Create(ctx, bw, root, sel)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return stats, fmt.Errorf("cache: save %s/%s: %w", key.Project, key.Name, err)
	}
	if stats.Files == 0 {
		stats.Warnings = append(stats.Warnings, "no files to cache; cache not saved")
		return stats, nil
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return stats, fmt.Errorf("cache: save: %w", err)
	}
	if err := store.Put(ctx, key, tmp); err != nil {
		return stats, fmt.Errorf("cache: save %s/%s: %w", key.Project, key.Name, err)
	}
	return stats, nil
}
