package gitlab

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/config"
)

func TestSourceStoresSweep(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) // the fake clock
	const ttl = 7 * 24 * time.Hour
	for _, tc := range []struct {
		name    string
		stores  map[string]time.Duration // store (under the runner's .sources/<token>) → age
		inUse   []string                 // stores a running job holds
		removed []string
		gone    []string // directories left empty, removed too
		stay    []string
	}{
		{
			name:    "old stores go, recent ones and those in use stay",
			stores:  map[string]time.Duration{"0/g/old.git": 8 * 24 * time.Hour, "0/g/recent.git": 24 * time.Hour, "0/g/sub/job.git": 30 * 24 * time.Hour, "1/top.git": ttl},
			inUse:   []string{"0/g/sub/job.git"},
			removed: []string{"0/g/old.git", "1/top.git"},
			gone:    []string{"1"},
			stay:    []string{"0/g/recent.git", "0/g/sub/job.git"},
		},
		{
			name:    "an emptied group goes, the runner's directory stays",
			stores:  map[string]time.Duration{"0/a/b/old.git": 9 * 24 * time.Hour, "0/c/new.git": 0},
			removed: []string{"0/a/b/old.git"},
			gone:    []string{"0/a/b", "0/a"},
			stay:    []string{"0/c/new.git", "."},
		},
		{
			name:    "a job about to create its store keeps the group directory",
			stores:  map[string]time.Duration{"0/g/old.git": 9 * 24 * time.Hour},
			inUse:   []string{"0/g/first.git"},
			removed: []string{"0/g/old.git"},
			stay:    []string{"0/g"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			builds := t.TempDir()
			r := config.Runner{BuildsDir: builds, Token: "glrt-abcdefghijklmnop", SourcesStoreTTL: ttl}
			root := filepath.Join(builds, sourceStoresDir, r.ShortToken())
			for s, age := range tc.stores {
				p := filepath.Join(root, s)
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
			clock := now.Add(-time.Hour)
			st := NewSourceStores(r, func() time.Time { return clock }, nil)
			for _, s := range tc.inUse {
				defer st.use(filepath.Join(root, s))()
			}
			clock = now
			if err := st.Sweep(context.Background()); err != nil {
				t.Fatalf("Sweep: %v", err)
			}
			for _, p := range append(tc.removed, tc.gone...) {
				if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s still there (err %v)", p, err)
				}
			}
			for _, p := range tc.stay {
				if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
					t.Errorf("%s must stay: %v", p, err)
				}
			}
		})
	}
}

// TestSourceStoresUse: a job's use marks its store used at that moment,
// so its age counts from its last job, and a store held by a running job
// survives any sweep until released.
func TestSourceStoresUse(t *testing.T) {
	builds := t.TempDir()
	r := config.Runner{BuildsDir: builds, Token: "glrt-abcdefghijklmnop", SourcesStoreTTL: time.Hour}
	store := filepath.Join(builds, sourceStoresDir, r.ShortToken(), "0", "g", "p.git")
	if err := os.MkdirAll(store, 0o700); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := start
	st := NewSourceStores(r, func() time.Time { return clock }, nil)
	release := st.use(store)
	if fi, err := os.Stat(store); err != nil || !fi.ModTime().Equal(start) {
		t.Fatalf("use did not mark the store used at %v: %v %v", start, fi.ModTime(), err)
	}
	clock = start.Add(2 * time.Hour) // the job ran past the ttl
	if err := st.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(store); err != nil {
		t.Fatalf("a store in use was swept: %v", err)
	}
	release()
	clock = start.Add(time.Hour - time.Second)
	if err := st.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(store); err != nil {
		t.Fatalf("swept within the ttl of its last use: %v", err)
	}
	clock = start.Add(time.Hour)
	if err := st.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(store); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a store unused for the ttl stays: %v", err)
	}
}

func TestSourceStoresNil(t *testing.T) {
	var st *SourceStores
	st.use("/nonexistent")()
	if err := st.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := config.Runner{BuildsDir: filepath.Join(t.TempDir(), "none"), Token: "glrt-abcdefghijklmnop"}
	if err := NewSourceStores(r, time.Now, nil).Sweep(context.Background()); err != nil {
		t.Fatalf("a runner without stores: %v", err)
	}
}
