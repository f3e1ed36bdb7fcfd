package gitlab

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

// warmSlots keeps, per slot, one container T created ahead of the slot's
// next job for the key of its last one (a sources helper, or a job
// container waiting for its step): while the last job runs, so the next
// job with the same key skips creating its own. An entry serves a job
// only when the job's key is its key and the host directories it mounts
// are still the directories (device and inode) it mounted: a removed and
// recreated directory discards it.
type warmSlots[T any] struct {
	log  *slog.Logger
	what string // for logs: "sources helper", "job container"
	// remove removes an entry's container and gives its place in the
	// budget back.
	remove func(T)
	// busy tracks creations and removals in flight (Warm.Close waits),
	// shared by the Warm's pools.
	busy *sync.WaitGroup
	// budget bounds the slots keeping an entry of this kind (or making
	// one) across the agent's runners (nil: unbounded); held are this
	// pool's, under mu.
	budget *warmBudget
	held   map[int]bool
	// ctx ends at close: creations in flight stop.
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	slots map[int]*warmEntry[T]
	// pending are the entries being created, by slot (refill).
	pending map[int]*pendingEntry
	closed  bool
}

// warmEntry is a created container waiting for a job.
type warmEntry[T any] struct {
	key  string
	dirs []fileID // the host directories it mounts, when created
	c    T
}

// pendingEntry is an entry being created for key; done is closed when
// its creation ended, whatever the outcome.
type pendingEntry struct {
	key  string
	done chan struct{}
}

// pendingWait bounds how long a job waits for its slot's warm container
// still being created before it creates one itself.
const pendingWait = 30 * time.Second

// warmCreateTimeout bounds the creation of a warm container.
const warmCreateTimeout = 2 * time.Minute

func newWarmSlots[T any](log *slog.Logger, what string, busy *sync.WaitGroup, budget *warmBudget, remove func(T)) *warmSlots[T] {
	ctx, cancel := context.WithCancel(context.Background())
	return &warmSlots[T]{log: log, what: what, busy: busy, budget: budget, ctx: ctx, cancel: cancel, remove: remove,
		held: map[int]bool{}, slots: map[int]*warmEntry[T]{}, pending: map[int]*pendingEntry{}}
}

// releaseLocked gives slot's place in the budget back once it keeps and
// makes nothing.
func (w *warmSlots[T]) releaseLocked(slot int) {
	if w.held[slot] && w.slots[slot] == nil && w.pending[slot] == nil {
		delete(w.held, slot)
		w.budget.release()
	}
}

// warmBudget counts the warm containers of one kind an agent keeps
// across its runners, at most max (a nil budget counts nothing): each
// waiting container holds its own network, and an engine has few.
type warmBudget struct {
	mu     sync.Mutex
	n, max int
}

func (b *warmBudget) acquire() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n >= b.max {
		return false
	}
	b.n++
	return true
}

func (b *warmBudget) release() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n > 0 {
		b.n--
	}
}

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

// take returns slot's entry when it matches key and still mounts the
// directories dirs. One still being created for key is waited for (at
// most pendingWait, or until ctx ends): it is further along than a
// container created now. An entry that does not match is removed in the
// background.
func (w *warmSlots[T]) take(ctx context.Context, slot int, key string, dirs ...string) (T, bool) {
	var zero T
	if w == nil {
		return zero, false
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
	e := w.slots[slot]
	delete(w.slots, slot)
	w.releaseLocked(slot)
	w.mu.Unlock()
	if e == nil {
		return zero, false
	}
	ids, err := statIDs(dirs...)
	if err == nil && e.key == key && slices.Equal(ids, e.dirs) {
		return e.c, true
	}
	w.log.Debug("discarding a warm "+w.what+" that does not fit the slot's job", "slot", slot)
	w.discard(e.c)
	return zero, false
}

// refill creates, in the background, slot's next entry with create, for
// key, mounting dirs, once after is closed (nil: at once): the job's own
// container starts first, the engine not shared meanwhile. It replaces
// the slot's current entry, if any.
func (w *warmSlots[T]) refill(slot int, key string, dirs []string, after <-chan struct{}, create func(ctx context.Context) (T, error)) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if !w.held[slot] {
		if !w.budget.acquire() {
			w.log.Debug("not keeping a warm "+w.what+": the agent keeps as many as it runs jobs at once", "slot", slot)
			return
		}
		w.held[slot] = true
	}
	p := &pendingEntry{key: key, done: make(chan struct{})}
	w.pending[slot] = p
	w.busy.Add(1)
	go func() {
		defer w.busy.Done()
		defer func() {
			w.mu.Lock()
			if w.pending[slot] == p {
				delete(w.pending, slot)
			}
			w.releaseLocked(slot)
			w.mu.Unlock()
			close(p.done)
		}()
		if after != nil {
			select {
			case <-after:
			case <-w.ctx.Done():
				return
			}
		}
		ids, err := statIDs(dirs...)
		if err != nil {
			return // a directory went meanwhile: nothing to keep warm
		}
		ctx, cancel := context.WithTimeout(w.ctx, warmCreateTimeout)
		defer cancel()
		c, err := create(ctx)
		if err != nil {
			if w.ctx.Err() == nil {
				w.log.Warn("creating a warm "+w.what, "slot", slot, "err", err)
			}
			return
		}
		w.mu.Lock()
		if w.closed || w.pending[slot] != p {
			// Stopping, or a newer refill of the slot replaced this one.
			w.mu.Unlock()
			w.remove(c)
			return
		}
		old := w.slots[slot]
		w.slots[slot] = &warmEntry[T]{key: key, dirs: ids, c: c}
		w.mu.Unlock()
		if old != nil {
			w.discard(old.c)
		}
	}()
}

// discard removes an unused container in the background (at once once
// closed).
func (w *warmSlots[T]) discard(c T) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.remove(c)
		return
	}
	w.busy.Add(1)
	w.mu.Unlock()
	go func() {
		defer w.busy.Done()
		w.remove(c)
	}()
}

// close starts removing every entry and refuses new ones; the Warm's
// busy group waits for the removals.
func (w *warmSlots[T]) close() {
	w.cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	for slot := range w.held {
		delete(w.held, slot)
		w.budget.release()
	}
	for slot, e := range w.slots {
		delete(w.slots, slot)
		w.busy.Add(1)
		go func() {
			defer w.busy.Done()
			w.remove(e.c)
		}()
	}
	w.closed = true
}
