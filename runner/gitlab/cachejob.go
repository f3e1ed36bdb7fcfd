package gitlab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/runfleet/runfleet/runner/archive"
	"github.com/runfleet/runfleet/runner/cache"
)

// cacheStore is where job caches live.
type cacheStore interface {
	cache.Getter
	cache.Putter
}

// cacheName is the effective key of a cache entry: its key, or
// "<job name>/<ref>" when empty, as GitLab defines it.
func (b *build) cacheName(c Cache) string {
	if c.Key != "" {
		return c.Key
	}
	return b.job.JobInfo.Name + "/" + b.job.GitInfo.Ref
}

func (b *build) cacheKey(name string) cache.Key {
	return cache.Key{Project: b.project, ProjectID: b.job.JobInfo.ProjectID, Name: name}
}

// restoreCache extracts each pull or pull-push cache into the project
// directory, trying the key, its fallback keys, then CACHE_FALLBACK_KEY.
func (b *build) restoreCache(ctx context.Context) error {
	if b.s.Cache == nil {
		return nil
	}
	var errs []error
	for _, c := range b.job.Cache {
		if c.Policy == CachePush {
			continue
		}
		keys := []cache.Key{b.cacheKey(b.cacheName(c))}
		for _, fb := range c.FallbackKeys {
			keys = append(keys, b.cacheKey(fb))
		}
		if fb := lookup(b.vars, "CACHE_FALLBACK_KEY"); fb != "" {
			keys = append(keys, b.cacheKey(fb))
		}
		hit, err := cache.Restore(ctx, b.s.Cache, keys, b.hostProjectDir())
		switch {
		case errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(b.rep, "No cache found for %s\n", b.cacheName(c))
		case err != nil:
			errs = append(errs, fmt.Errorf("cache %s: %w", b.cacheName(c), err))
		default:
			fmt.Fprintf(b.rep, "Restored cache %s\n", hit.Name)
		}
	}
	return errors.Join(errs...)
}

// saveCache archives each push or pull-push cache whose `when` matches.
func (b *build) saveCache(ctx context.Context, ok bool) error {
	if b.s.Cache == nil {
		return nil
	}
	if _, err := os.Stat(b.hostProjectDir()); err != nil {
		return nil // nothing was fetched, nothing to save
	}
	var errs []error
	for _, c := range b.job.Cache {
		if c.Policy == CachePull || !whenOutcome(c.When, ok) {
			continue
		}
		name := b.cacheName(c)
		st, err := cache.Save(ctx, b.s.Cache, b.cacheKey(name), b.hostProjectDir(),
			archive.Selection{Paths: c.Paths, Untracked: c.Untracked})
		if err != nil {
			errs = append(errs, fmt.Errorf("cache %s: %w", name, err))
			continue
		}
		for _, w := range st.Warnings {
			fmt.Fprintf(b.rep, "WARNING: %s\n", w)
		}
		fmt.Fprintf(b.rep, "Created cache %s (%d files, %d bytes)\n", name, st.Files, st.Bytes)
	}
	return errors.Join(errs...)
}
