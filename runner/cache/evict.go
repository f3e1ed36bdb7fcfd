package cache

import (
	"cmp"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// entry is one stored archive as eviction sees it.
type entry struct {
	path string
	size int64
	used time.Time
}

// scan lists every archive in the store.
func (s *LocalStore) scan(ctx context.Context) ([]entry, error) {
	var out []entry
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			// A directory removed by a concurrent eviction is fine.
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.Name() != archiveName || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		out = append(out, entry{path: p, size: fi.Size(), used: fi.ModTime()})
		return nil
	})
	return out, err
}

// evict removes least recently used archives until the store fits in
// maxBytes, never touching keep (the archive just written). Failures are
// logged: the write that triggered eviction has already succeeded.
func (s *LocalStore) evict(ctx context.Context, keep string) {
	if s.maxBytes <= 0 {
		return
	}
	s.evictTo(ctx, func(int64) int64 { return s.maxBytes }, keep)
}

// Shrink evicts least recently used entries until the store holds at most
// half of what it holds now: what the agent does under disk pressure. It
// returns the bytes freed.
func (s *LocalStore) Shrink(ctx context.Context) int64 {
	before := s.Evictions().Bytes
	s.evictTo(ctx, func(total int64) int64 { return total / 2 }, "")
	return s.Evictions().Bytes - before
}

// evictTo removes entries, least recently used first and never keep,
// until the total is at most limit(total at the start).
func (s *LocalStore) evictTo(ctx context.Context, limit func(total int64) int64, keep string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.scan(ctx)
	if err != nil {
		s.logger.Warn("cache: eviction scan failed", "dir", s.dir, "err", err)
		return
	}
	var total int64
	for _, e := range entries {
		total += e.size
	}
	limitBytes := limit(total)
	if total <= limitBytes {
		return
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(a.used.Compare(b.used), strings.Compare(a.path, b.path))
	})
	var n, freed int64
	for _, e := range entries {
		if total <= limitBytes {
			break
		}
		if e.path == keep {
			continue
		}
		if err := os.Remove(e.path); err != nil && !os.IsNotExist(err) {
			s.logger.Warn("cache: evict entry", "path", e.path, "err", err)
			continue
		}
		total -= e.size
		n++
		freed += e.size
		s.pruneDirs(filepath.Dir(e.path))
	}
	s.evictions.Entries += n
	s.evictions.Bytes += freed
	if n > 0 {
		s.logger.Info("cache: evicted least recently used entries",
			"entries", n, "bytes", freed, "total_bytes", total, "max_bytes", limitBytes)
	}
	if total > limitBytes {
		s.logger.Warn("cache: store still over its limit; the newest entry alone exceeds it",
			"path", keep, "total_bytes", total, "max_bytes", limitBytes)
	}
}

// pruneDirs removes now-empty directories from dir up to the store root.
func (s *LocalStore) pruneDirs(dir string) {
	for dir != s.dir && strings.HasPrefix(dir, s.dir+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// removeStaleTemps deletes temporary archives left by crashed writers.
func (s *LocalStore) removeStaleTemps() {
	cutoff := s.clock.Now().Add(-staleTempAge)
	_ = filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.ModTime().Before(cutoff) {
			if err := os.Remove(p); err == nil {
				s.logger.Info("cache: removed stale temporary file", "path", p)
			}
		}
		return nil
	})
}
