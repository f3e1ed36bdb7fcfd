package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/runfleet/runfleet/runner/archive"
)

// TestConcurrentJobsShareCaches runs what concurrent jobs of one node do:
// each restores the shared key into its own build directory, then saves
// its own version of the tree, while an LRU cap small enough to evict
// between jobs is in force. Every restore must yield one writer's tree,
// whole: never files of two versions, never a partial file.
func TestConcurrentJobsShareCaches(t *testing.T) {
	ctx := context.Background()
	const jobs, rounds, files = 6, 4, 20
	// Room for about two archives: eviction runs during the test.
	s := newStore(t, 3*files*4096, nil)
	shared := Key{Project: "g/p", Name: "deps"}
	srcs := make([]string, jobs)
	for j := range srcs {
		srcs[j] = t.TempDir()
		for f := range files {
			p := filepath.Join(srcs[j], "deps", fmt.Sprintf("f%02d", f))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			// Incompressible, the same in every file of one job.
			if err := os.WriteFile(p, jobBytes(j, 4096), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	sel := archive.Selection{Paths: []string{"deps/"}}
	var wg sync.WaitGroup
	errs := make(chan error, jobs*rounds*2)
	for j := range jobs {
		wg.Go(func() {
			for r := range rounds {
				dst := filepath.Join(t.TempDir(), "build")
				_, err := Restore(ctx, s, []Key{shared, {Project: "g/p", Name: fmt.Sprintf("own-%d", j)}}, dst)
				switch {
				case errors.Is(err, fs.ErrNotExist):
				case err != nil:
					errs <- fmt.Errorf("job %d round %d: restore: %w", j, r, err)
				default:
					if err := oneVersion(dst, files); err != nil {
						errs <- fmt.Errorf("job %d round %d: %w", j, r, err)
					}
				}
				key := shared
				if r%2 == 1 {
					key = Key{Project: "g/p", Name: fmt.Sprintf("own-%d", j)}
				}
				if _, err := Save(ctx, s, key, srcs[j], sel); err != nil {
					errs <- fmt.Errorf("job %d round %d: save: %w", j, r, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s.Evictions().Entries == 0 {
		t.Errorf("no eviction happened: the test did not exercise LRU under concurrency")
	}
	if left := tempFiles(t, s.Dir()); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

// oneVersion checks that dir/deps holds exactly n files, all written by
// the same job and complete.
func oneVersion(dir string, n int) error {
	entries, err := os.ReadDir(filepath.Join(dir, "deps"))
	if err != nil {
		return err
	}
	if len(entries) != n {
		return fmt.Errorf("restored %d files, want %d", len(entries), n)
	}
	var first string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, "deps", e.Name()))
		if err != nil {
			return err
		}
		if first == "" {
			first = string(b)
		}
		if string(b) != first || len(b) != len(first) {
			return fmt.Errorf("%s differs from the other files: mixed versions", e.Name())
		}
	}
	return nil
}

// jobBytes returns n pseudo-random bytes seeded by job.
func jobBytes(job, n int) []byte {
	rng := rand.New(rand.NewPCG(uint64(job), 99))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}
