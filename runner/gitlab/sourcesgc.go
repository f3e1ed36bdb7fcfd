package gitlab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/runfleet/runfleet/runner/config"
)

// SourceStores are the source stores of one runner's slots
// (builds_dir/.sources/<short token>/<slot>/<project>.git). Jobs mark the
// store they fetch into as used; Sweep, which the agent's periodic reaper
// runs (off every job's critical path), removes the stores no job used
// for the runner's sources_store_ttl. A nil *SourceStores marks nothing
// and sweeps nothing (runner exec).
type SourceStores struct {
	dir string
	ttl time.Duration
	now func() time.Time
	log *slog.Logger

	mu    sync.Mutex
	inUse map[string]int // store path → jobs fetching or checking out from it
}

// NewSourceStores returns the source stores of r; now is the agent's clock.
func NewSourceStores(r config.Runner, now func() time.Time, log *slog.Logger) *SourceStores {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ttl := r.SourcesStoreTTL
	if ttl <= 0 {
		ttl = config.DefaultSourcesStoreTTL
	}
	return &SourceStores{
		dir: filepath.Join(r.BuildsDir, sourceStoresDir, r.ShortToken()),
		ttl: ttl, now: now, log: log, inUse: map[string]int{},
	}
}

// use marks store used now and keeps Sweep away from it until release is
// called: its age counts from its last job.
func (s *SourceStores) use(store string) (release func()) {
	if s == nil {
		return func() {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if err := os.Chtimes(store, now, now); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("marking the source store used", "store", store, "err", err)
	}
	s.inUse[store]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.inUse[store]--; s.inUse[store] <= 0 {
			delete(s.inUse, store)
		}
	}
}

// Sweep removes the stores that no job used for the ttl, and the
// directories they leave empty; stores in use are left alone. A failure is
// logged and returned: no job depends on it.
func (s *SourceStores) Sweep(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	removed, err := collectStores(s.dir, s.inUse, s.now(), s.ttl)
	for _, p := range removed {
		s.log.InfoContext(ctx, "removed a source store no job used", "store", p, "ttl", s.ttl)
	}
	if err != nil {
		s.log.WarnContext(ctx, "source store cleanup", "dir", s.dir, "err", err)
	}
	return err
}

// collectStores removes the source stores under root (a runner's
// builds_dir/.sources/<token>) that no job used for ttl, except those in
// inUse, and the directories they leave empty. A store's last use is its
// directory's modification time.
func collectStores(root string, inUse map[string]int, now time.Time, ttl time.Duration) (removed []string, err error) {
	var errs []error
	walkErr := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			errs = append(errs, err)
			return nil
		}
		if !d.IsDir() || path == root || !strings.HasSuffix(d.Name(), ".git") {
			return nil
		}
		// A store: never descend into it.
		if inUse[path] > 0 {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			errs = append(errs, err)
			return filepath.SkipDir
		}
		if now.Sub(fi.ModTime()) < ttl {
			return filepath.SkipDir
		}
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, fmt.Errorf("remove the source store %s: %w", path, err))
			return filepath.SkipDir
		}
		removed = append(removed, path)
		return filepath.SkipDir
	})
	for _, p := range removed {
		for dir := filepath.Dir(p); dir != root && strings.HasPrefix(dir, root+string(filepath.Separator)); dir = filepath.Dir(dir) {
			// A job about to create its store there needs the directory.
			if holdsStoreInUse(dir, inUse) || os.Remove(dir) != nil { // not empty: another project of the group, or a slot
				break
			}
		}
	}
	return removed, errors.Join(append(errs, walkErr)...)
}

// holdsStoreInUse reports whether a store in use lies under dir.
func holdsStoreInUse(dir string, inUse map[string]int) bool {
	for p := range inUse {
		if strings.HasPrefix(p, dir+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
