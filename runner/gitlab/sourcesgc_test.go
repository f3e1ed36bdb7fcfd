package gitlab

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestCollectStores(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) // the fake clock
	const ttl = 7 * 24 * time.Hour
	for _, tc := range []struct {
		name    string
		stores  map[string]time.Duration // store (under the slot) → age
		keep    string                   // the starting job's store
		removed []string
		gone    []string // directories left empty, removed too
		stay    []string
	}{
		{
			name:    "old stores go, recent ones and the job's stay",
			stores:  map[string]time.Duration{"g/old.git": 8 * 24 * time.Hour, "g/recent.git": 24 * time.Hour, "g/sub/job.git": 30 * 24 * time.Hour, "top.git": ttl},
			keep:    "g/sub/job.git",
			removed: []string{"g/old.git", "top.git"},
			stay:    []string{"g/recent.git", "g/sub/job.git"},
		},
		{
			name:    "an emptied group goes, the slot stays",
			stores:  map[string]time.Duration{"a/b/old.git": 9 * 24 * time.Hour, "c/job.git": 0},
			keep:    "c/job.git",
			removed: []string{"a/b/old.git"},
			gone:    []string{"a/b", "a"},
			stay:    []string{"c/job.git", "."},
		},
		{
			name:   "the job's first store does not exist yet",
			stores: map[string]time.Duration{"g/recent.git": ttl - time.Second},
			keep:   "g/new.git",
			stay:   []string{"g/recent.git"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slot := filepath.Join(t.TempDir(), ".sources", "tok", "0")
			for s, age := range tc.stores {
				p := filepath.Join(slot, s)
				if err := os.MkdirAll(filepath.Join(p, "objects", "pack"), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(p, "HEAD"), []byte("ref: refs/heads/main\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
					t.Fatal(err)
				}
			}
			keep := filepath.Join(slot, tc.keep)
			removed, err := collectStores(slot, keep, now, ttl)
			if err != nil {
				t.Fatalf("collectStores: %v", err)
			}
			var want []string
			for _, r := range tc.removed {
				want = append(want, filepath.Join(slot, r))
			}
			slices.Sort(removed)
			if !slices.Equal(removed, want) {
				t.Errorf("removed %q, want %q", removed, want)
			}
			for _, p := range append(tc.removed, tc.gone...) {
				if _, err := os.Lstat(filepath.Join(slot, p)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s still there (err %v)", p, err)
				}
			}
			for _, p := range tc.stay {
				if _, err := os.Lstat(filepath.Join(slot, p)); err != nil {
					t.Errorf("%s must stay: %v", p, err)
				}
			}
			// The job's store counts as used now: a run a ttl less a
			// second later keeps it.
			if fi, err := os.Stat(keep); err == nil && !fi.ModTime().Equal(now) {
				t.Errorf("the job's store was used at %v, want %v", fi.ModTime(), now)
			}
			if _, err := collectStores(slot, filepath.Join(slot, "other.git"), now.Add(ttl-time.Second), ttl); err != nil {
				t.Fatal(err)
			}
			if _, existed := tc.stores[tc.keep]; existed {
				if _, err := os.Stat(keep); err != nil {
					t.Errorf("the job's store went within ttl of its use: %v", err)
				}
			}
		})
	}
}

func TestCollectStoresMissingSlot(t *testing.T) {
	slot := filepath.Join(t.TempDir(), "none")
	removed, err := collectStores(slot, filepath.Join(slot, "p.git"), time.Now(), time.Hour)
	if err != nil || len(removed) != 0 {
		t.Fatalf("a slot without stores: removed %q, err %v", removed, err)
	}
}
