package warmpool

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// maker makes numbered objects, failing when told to, and records drops.
type maker struct {
	mu      sync.Mutex
	n       int
	fail    bool
	dropped []int
}

func (m *maker) make(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return 0, errors.New("engine refused")
	}
	m.n++
	return m.n, nil
}

func (m *maker) drop(_ context.Context, v int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropped = append(m.dropped, v)
}

// waitReady waits until p holds n objects.
func waitReady(t *testing.T, p *Pool[int], n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.Ready() != n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d ready objects (have %d)", n, p.Ready())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPool(t *testing.T) {
	m := &maker{}
	p := New(2, m.make, m.drop)
	ctx := context.Background()
	if _, ok := p.Take(); ok {
		t.Fatal("an empty pool handed out an object")
	}
	p.Refill(ctx)
	waitReady(t, p, 2)
	var got []int
	for range 2 {
		v, ok := p.Take()
		if !ok {
			t.Fatal("a full pool handed out nothing")
		}
		got = append(got, v)
	}
	if !slices.Equal(got, []int{1, 2}) {
		t.Errorf("took %v, want the oldest first: [1 2]", got)
	}
	// Each object serves one taker: the pool makes new ones.
	p.Refill(ctx)
	waitReady(t, p, 2)
	p.Drain(ctx)
	if !slices.Equal(m.dropped, []int{3, 4}) || p.Ready() != 0 {
		t.Errorf("drain dropped %v with %d left, want [3 4] and none", m.dropped, p.Ready())
	}
}

func TestPoolMakeFails(t *testing.T) {
	m := &maker{fail: true}
	p := New(1, m.make, m.drop)
	ctx := context.Background()
	p.Refill(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		filling := p.filling
		p.mu.Unlock()
		if !filling {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the filler did not stop after a failure")
		}
		time.Sleep(time.Millisecond)
	}
	if _, ok := p.Take(); ok {
		t.Fatal("a failed make handed out an object")
	}
	m.mu.Lock()
	m.fail = false
	m.mu.Unlock()
	p.Refill(ctx) // the next refill tries again
	waitReady(t, p, 1)
	p.Drain(ctx)
}

func TestPoolNone(t *testing.T) {
	m := &maker{}
	p := New(0, m.make, m.drop)
	p.Refill(context.Background())
	p.Drain(context.Background())
	if _, ok := p.Take(); ok || m.n != 0 {
		t.Fatalf("a pool of 0 made %d objects", m.n)
	}
}

func TestHeldRefill(t *testing.T) {
	m := &maker{}
	p := New(1, m.make, m.drop)
	r := p.Held()
	if p.Ready() != 0 {
		t.Fatal("Held refilled the pool before Run")
	}
	ctx := context.Background()
	r.Run(ctx)
	waitReady(t, p, 1)
	if _, ok := p.Take(); !ok {
		t.Fatal("no object after Run")
	}
	r.Run(ctx) // once only: the pool stays empty
	time.Sleep(20 * time.Millisecond)
	if n := p.Ready(); n != 0 {
		t.Errorf("a second Run refilled the pool (%d ready)", n)
	}
	var none *Refill
	none.Run(ctx) // a job that took nothing: no panic, no refill
	p.Drain(ctx)
}
