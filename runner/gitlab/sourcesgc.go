package gitlab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/runfleet/runfleet/runner/config"
)

// collectSlotStores removes the job's slot's source stores that no job
// used for the runner's sources_store_ttl (collectStores), before the job
// fetches into store. A failure is only logged: the job does not depend
// on it.
func (b *build) collectSlotStores(ctx context.Context, store string) {
	r := b.s.Runner
	log := b.s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := time.Now
	if b.s.Now != nil {
		now = b.s.Now
	}
	ttl := r.SourcesStoreTTL
	if ttl <= 0 {
		ttl = config.DefaultSourcesStoreTTL
	}
	slot := filepath.Join(r.BuildsDir, sourceStoresDir, r.ShortToken(), strconv.Itoa(b.slot))
	removed, err := collectStores(slot, store, now(), ttl)
	for _, p := range removed {
		log.InfoContext(ctx, "removed a source store no job used", "store", p, "ttl", ttl)
	}
	if err != nil {
		log.WarnContext(ctx, "source store cleanup", "slot", slot, "err", err)
	}
}

// collectStores removes the source stores under slotDir (a slot's
// builds_dir/.sources/<token>/<slot>) that no job used for ttl, and the
// directories they leave empty. It runs when a job of the slot starts,
// when no other job uses the slot's stores: a slot runs one job at a
// time. keep, the job's own store, is marked used at now instead, so
// its age counts from its last job. A store's last use is its
// directory's modification time.
func collectStores(slotDir, keep string, now time.Time, ttl time.Duration) (removed []string, err error) {
	if err := os.Chtimes(keep, now, now); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("mark the source store used: %w", err)
	}
	var errs []error
	walkErr := filepath.WalkDir(slotDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			errs = append(errs, err)
			return nil
		}
		if !d.IsDir() || path == slotDir || !strings.HasSuffix(d.Name(), ".git") {
			return nil
		}
		// A store: never descend into it.
		if path == keep {
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
		for dir := filepath.Dir(p); dir != slotDir && strings.HasPrefix(dir, slotDir+string(filepath.Separator)); dir = filepath.Dir(dir) {
			if os.Remove(dir) != nil { // not empty: another project of the group
				break
			}
		}
	}
	return removed, errors.Join(append(errs, walkErr)...)
}
