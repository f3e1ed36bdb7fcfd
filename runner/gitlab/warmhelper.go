package gitlab

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/runfleet/runfleet/runner/config"
)

// helperParamsDir, under builds_dir, holds one directory per sources
// helper container: the checkout's parameters (helperParams), which the
// agent writes there just before the helper's script runs. The helper
// mounts its own directory read-only; no job container mounts any.
const helperParamsDir = ".helper-params"

// WarmHelpers keeps, per slot, one sources helper container created
// ahead of the slot's next job, for the project of its last one: the
// helper is created and started (its script held at the executor's gate)
// while the last job's script runs, so the next job of the same project
// in that slot checks out without waiting for the engine to create a
// container (about one container start of the job's start-up).
//
// A warm helper is exactly what a fresh one would be: a new container
// that has run nothing, with the same image, limits and mounts (the
// project directory, the store read-only, and a parameter directory of
// its own, read-only), each used for one checkout and then removed. Its
// checkout's parameters (remote, sha, strategy flags) are written to its
// parameter directory when a job takes it. It serves a job only when its
// spec is the one the job's helper would get and its project directory
// and store are still the same directories (device and inode) that it
// mounted: a removed and recreated directory, another project, another
// image or limits discard it. A warm helper whose checkout fails to run
// (its engine restarted, say) is replaced by a fresh one for that job.
//
// A nil *WarmHelpers keeps nothing: every checkout creates its helper.
type WarmHelpers struct {
	log *slog.Logger

	mu    sync.Mutex
	slots map[int]*warmHelper
	// pending are the helpers being created, by slot (refill).
	pending map[int]*pendingHelper
	closed  bool
	// busy tracks creations and removals in flight (Close waits).
	busy sync.WaitGroup
}

// warmHelper is a created, started helper waiting for a job.
type warmHelper struct {
	key  string
	dirs []fileID // the project directory and the store, when created
	c    *helperEnvRun
}

// pendingHelper is a warm helper being created for key; done is closed
// when its creation ended, whatever the outcome.
type pendingHelper struct {
	key  string
	done chan struct{}
}

// pendingWait bounds how long a job waits for its slot's warm helper
// still being created before it creates one itself.
const pendingWait = 30 * time.Second

// fileID identifies a directory across renames: a path removed and
// created again is another directory.
type fileID struct{ dev, ino uint64 }

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, fmt.Errorf("%s: no device and inode", path)
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}, nil
}

// statIDs identifies paths, or fails.
func statIDs(paths ...string) ([]fileID, error) {
	ids := make([]fileID, len(paths))
	for i, p := range paths {
		id, err := statID(p)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

// NewWarmHelpers returns the warm helpers of runner r's slots. Parameter
// directories a killed agent left are removed (its containers are reaped
// with the rest of the node's objects).
func NewWarmHelpers(r config.Runner, log *slog.Logger) *WarmHelpers {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	params := helperParamsRoot(r)
	w := &WarmHelpers{log: log, slots: map[int]*warmHelper{}, pending: map[int]*pendingHelper{}}
	if err := os.RemoveAll(params); err != nil {
		log.Warn("removing old sources helper parameter directories", "dir", params, "err", err)
	}
	return w
}

// helperParamsRoot is where runner r's helpers' parameter directories go,
// with or without warm helpers (runner exec).
func helperParamsRoot(r config.Runner) string {
	return filepath.Join(r.BuildsDir, helperParamsDir, r.ShortToken())
}

// take returns slot's warm helper when it matches key and still mounts
// the directories dirs, or nil. One still being created for key is
// waited for (at most pendingWait, or until ctx ends): it is further
// along than a helper created now. A warm helper that does not match is
// removed in the background.
func (w *WarmHelpers) take(ctx context.Context, slot int, key string, dirs ...string) *helperEnvRun {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	if p := w.pending[slot]; w.slots[slot] == nil && p != nil && p.key == key {
		w.mu.Unlock()
		wctx, cancel := context.WithTimeout(ctx, pendingWait)
		select {
		case <-p.done:
		case <-wctx.Done():
		}
		cancel()
		w.mu.Lock()
	}
	h := w.slots[slot]
	delete(w.slots, slot)
	w.mu.Unlock()
	if h == nil {
		return nil
	}
	ids, err := statIDs(dirs...)
	if err == nil && h.key == key && slices.Equal(ids, h.dirs) {
		return h.c
	}
	w.log.Debug("discarding a warm sources helper that does not fit the slot's job", "slot", slot)
	w.discard(h.c)
	return nil
}

// refill creates, in the background, slot's next warm helper with
// create, for a helper spec of key mounting dirs, once after is closed
// (nil: at once): the job's own container starts first, the engine not
// shared with the helper meanwhile. It replaces the slot's current one,
// if any.
func (w *WarmHelpers) refill(slot int, key string, dirs []string, after <-chan struct{}, create func(ctx context.Context) (*helperEnvRun, error)) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	p := &pendingHelper{key: key, done: make(chan struct{})}
	w.pending[slot] = p
	w.busy.Add(1)
	go func() {
		defer w.busy.Done()
		defer func() {
			w.mu.Lock()
			if w.pending[slot] == p {
				delete(w.pending, slot)
			}
			w.mu.Unlock()
			close(p.done)
		}()
		if after != nil {
			<-after
		}
		ids, err := statIDs(dirs...)
		if err != nil {
			return // the directory went meanwhile: nothing to keep warm
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, err := create(ctx)
		if err != nil {
			w.log.Warn("creating a warm sources helper", "slot", slot, "err", err)
			return
		}
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			c.remove()
			return
		}
		old := w.slots[slot]
		w.slots[slot] = &warmHelper{key: key, dirs: ids, c: c}
		w.mu.Unlock()
		if old != nil {
			w.discard(old.c)
		}
	}()
}

// discard removes an unused helper in the background (at once once
// closed).
func (w *WarmHelpers) discard(c *helperEnvRun) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		c.remove()
		return
	}
	w.busy.Add(1)
	w.mu.Unlock()
	go func() {
		defer w.busy.Done()
		c.remove()
	}()
}

// Close removes every warm helper, once the creations in flight are
// done, or gives up when ctx ends. Nothing is kept warm after it.
func (w *WarmHelpers) Close(ctx context.Context) error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	for slot, h := range w.slots {
		delete(w.slots, slot)
		w.busy.Add(1)
		go func() {
			defer w.busy.Done()
			h.c.remove()
		}()
	}
	w.closed = true
	w.mu.Unlock()
	done := make(chan struct{})
	go func() {
		w.busy.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gitlab: removing warm sources helpers: %w", ctx.Err())
	}
}
