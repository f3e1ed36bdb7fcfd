package gitlab

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeWarm is a warm container of the warmSlots tests.
type fakeWarm struct{ name string }

// fakeRemovals records what a warmSlots removed.
type fakeRemovals struct {
	mu    sync.Mutex
	names []string
}

func (r *fakeRemovals) remove(c *fakeWarm) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names = append(r.names, c.name)
}

func (r *fakeRemovals) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.names...)
}

func newFakeSlots(t *testing.T, max int) (*warmSlots[*fakeWarm], *fakeRemovals, *sync.WaitGroup, *warmBudget) {
	t.Helper()
	var busy sync.WaitGroup
	rm := &fakeRemovals{}
	b := &warmBudget{max: max}
	w := newWarmSlots(slog.New(slog.DiscardHandler), "test container", &busy, b, rm.remove)
	t.Cleanup(func() {
		w.close()
		busy.Wait()
	})
	return w, rm, &busy, b
}

// created returns a create func that makes name, after release closes
// (nil: at once).
func created(name string, release <-chan struct{}) func(ctx context.Context) (*fakeWarm, error) {
	return func(ctx context.Context) (*fakeWarm, error) {
		if release != nil {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return &fakeWarm{name: name}, nil
	}
}

// settle waits for w's creations and removals in flight (bounded).
func settle(t *testing.T, busy *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { busy.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("warm containers still being created or removed after 10 s")
	}
}

func TestWarmSlots(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()

	t.Run("taken when key and directories match; the budget place goes with it", func(t *testing.T) {
		w, rm, busy, b := newFakeSlots(t, 2)
		if _, ok := w.take(ctx, 0, "k", dir); ok {
			t.Fatal("an empty slot gave a container")
		}
		w.refill(0, "k", []string{dir}, nil, created("a", nil))
		settle(t, busy)
		c, ok := w.take(ctx, 0, "k", dir)
		if !ok || c.name != "a" {
			t.Fatalf("take = %v, %t; want a", c, ok)
		}
		if b.n != 0 || len(rm.list()) != 0 {
			t.Errorf("after a take: budget %d, removed %q; want 0, none", b.n, rm.list())
		}
	})

	t.Run("another key is removed, not taken", func(t *testing.T) {
		w, rm, busy, b := newFakeSlots(t, 2)
		w.refill(0, "k", []string{dir}, nil, created("a", nil))
		settle(t, busy)
		if _, ok := w.take(ctx, 0, "other", dir); ok {
			t.Fatal("a container of another key was taken")
		}
		settle(t, busy)
		if got := rm.list(); len(got) != 1 || got[0] != "a" || b.n != 0 {
			t.Errorf("removed %q, budget %d; want [a], 0", got, b.n)
		}
	})

	t.Run("a directory made again is another directory", func(t *testing.T) {
		w, rm, busy, _ := newFakeSlots(t, 2)
		d := filepath.Join(t.TempDir(), "p")
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		w.refill(0, "k", []string{d}, nil, created("a", nil))
		settle(t, busy)
		if err := os.Remove(d); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(filepath.Dir(d), "other"), 0o755); err != nil {
			t.Fatal(err) // the freed inode goes elsewhere
		}
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, ok := w.take(ctx, 0, "k", d); ok {
			t.Fatal("a container mounting the removed directory was taken")
		}
		settle(t, busy)
		if len(rm.list()) != 1 {
			t.Errorf("removed %q, want the stale one", rm.list())
		}
	})

	t.Run("a slot's newer container takes its older one's place in the budget", func(t *testing.T) {
		w, rm, busy, b := newFakeSlots(t, 1)
		w.refill(0, "a", []string{dir}, nil, created("a", nil))
		settle(t, busy)
		w.refill(0, "b", []string{dir}, nil, created("b", nil))
		settle(t, busy)
		if c, ok := w.take(ctx, 0, "b", dir); !ok || c.name != "b" {
			t.Fatalf("take = %v, %t; want the slot's newer container", c, ok)
		}
		if got := rm.list(); len(got) != 1 || got[0] != "a" || b.n != 0 {
			t.Errorf("removed %q, budget %d; want [a], 0", got, b.n)
		}
	})

	t.Run("the budget bounds the containers kept across slots", func(t *testing.T) {
		w, _, busy, b := newFakeSlots(t, 1)
		w.refill(0, "k", []string{dir}, nil, created("a", nil))
		settle(t, busy)
		w.refill(1, "k", []string{dir}, nil, created("b", nil))
		settle(t, busy)
		if _, ok := w.take(ctx, 1, "k", dir); ok {
			t.Fatal("slot 1 kept a container beyond the budget of 1")
		}
		if _, ok := w.take(ctx, 0, "k", dir); !ok {
			t.Fatal("slot 0 lost its container")
		}
		if b.n != 0 {
			t.Errorf("budget %d after the take, want 0", b.n)
		}
	})

	t.Run("a late creation replaced by a newer refill is removed", func(t *testing.T) {
		w, rm, busy, _ := newFakeSlots(t, 2)
		slow := make(chan struct{})
		w.refill(0, "old", []string{dir}, nil, created("old", slow))
		w.refill(0, "new", []string{dir}, nil, created("new", nil))
		time.Sleep(50 * time.Millisecond) // the newer one is kept first
		close(slow)
		settle(t, busy)
		c, ok := w.take(ctx, 0, "new", dir)
		if !ok || c.name != "new" {
			t.Fatalf("take = %v, %t; want the newer container", c, ok)
		}
		if got := rm.list(); len(got) != 1 || got[0] != "old" {
			t.Errorf("removed %q, want [old]", got)
		}
	})

	t.Run("a job waits for its slot's container being made", func(t *testing.T) {
		w, _, _, _ := newFakeSlots(t, 2)
		slow := make(chan struct{})
		w.refill(0, "k", []string{dir}, nil, created("a", slow))
		time.AfterFunc(50*time.Millisecond, func() { close(slow) })
		c, ok := w.take(ctx, 0, "k", dir)
		if !ok || c.name != "a" {
			t.Fatalf("take = %v, %t; want the container that was being made", c, ok)
		}
	})

	t.Run("close removes what is kept and stops what is being made", func(t *testing.T) {
		w, rm, busy, b := newFakeSlots(t, 2)
		w.refill(0, "k", []string{dir}, nil, created("kept", nil))
		settle(t, busy)
		never := make(chan struct{})
		w.refill(1, "k", []string{dir}, nil, created("making", never))
		w.close()
		settle(t, busy)
		if got := rm.list(); len(got) != 1 || got[0] != "kept" {
			t.Errorf("removed %q, want [kept]", got)
		}
		if b.n != 0 {
			t.Errorf("budget %d after close, want 0", b.n)
		}
		w.refill(0, "k", []string{dir}, nil, created("after", nil))
		settle(t, busy)
		if _, ok := w.take(ctx, 0, "k", dir); ok {
			t.Error("a container was kept after close")
		}
	})

	t.Run("a failed creation keeps nothing and frees its place", func(t *testing.T) {
		w, _, busy, b := newFakeSlots(t, 1)
		w.refill(0, "k", []string{dir}, nil, func(context.Context) (*fakeWarm, error) { return nil, errors.New("engine down") })
		settle(t, busy)
		if _, ok := w.take(ctx, 0, "k", dir); ok || b.n != 0 {
			t.Errorf("after a failed creation: taken %t, budget %d; want false, 0", ok, b.n)
		}
	})
}
