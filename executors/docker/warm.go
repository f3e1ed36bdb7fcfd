package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/docker/docker/api/types/network"
)

// labelWarm marks a network created ahead of time, before any job owned it.
const labelWarm = "dev.runfleet.warm"

// warmPool keeps a few per-job bridge networks created ahead of time:
// creating a network costs the engine ~200 ms, most of a job's start-up.
// Each network still serves exactly one job and is removed with it; the
// pool only moves the creation off the job's critical path.
type warmPool struct {
	want int

	mu      sync.Mutex
	ready   []warmNet
	filling bool
	stop    context.CancelFunc // stops the filler; set on first use
	fill    func()             // runs fillWarm with the filler's context
	wg      sync.WaitGroup
}

type warmNet struct{ id, name, key string }

// takeNetwork returns a warm network (and its ownership key, which stays
// live until the Env that took it closes), or ok=false when none is ready.
// It does not refill the pool: refillWarm does, once the job's own engine
// calls are done, so a network being created ahead never competes with
// the job that is starting.
func (e *Executor) takeNetwork() (warmNet, bool) {
	p := &e.warm
	if p.want <= 0 {
		return warmNet{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ready) == 0 {
		return warmNet{}, false
	}
	n := p.ready[0]
	p.ready = p.ready[1:]
	return n, true
}

// refillWarm makes sure the pool refills in the background, unless it is
// full or already filling.
func (e *Executor) refillWarm(ctx context.Context) {
	p := &e.warm
	if p.want <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.filling && len(p.ready) < p.want {
		if p.stop == nil {
			var fillCtx context.Context
			fillCtx, p.stop = context.WithCancel(context.WithoutCancel(ctx))
			p.fill = func() { e.fillWarm(fillCtx) }
		}
		p.filling = true
		p.wg.Go(p.fill)
	}
}

// fillWarm creates networks until the pool is full, then returns.
func (e *Executor) fillWarm(ctx context.Context) {
	p := &e.warm
	defer func() {
		p.mu.Lock()
		p.filling = false
		p.mu.Unlock()
	}()
	for {
		p.mu.Lock()
		full := len(p.ready) >= p.want
		p.mu.Unlock()
		if full || ctx.Err() != nil {
			return
		}
		var b [6]byte
		_, _ = rand.Read(b[:])
		key := "warm-" + hex.EncodeToString(b[:])
		if err := e.claim(key); err != nil {
			return
		}
		labels := objectLabels(nil, e.node, key, roleNetwork)
		labels[labelWarm] = "true"
		name := "runfleet-" + key
		resp, err := e.api.NetworkCreate(ctx, name, network.CreateOptions{
			Driver: "bridge", Labels: labels, Options: map[string]string{bridgeOption: newBridgeName()},
		})
		if err != nil {
			e.release(key)
			e.log.WarnContext(ctx, "creating a warm network failed; jobs create their own", "err", err)
			return
		}
		p.mu.Lock()
		p.ready = append(p.ready, warmNet{id: resp.ID, name: name, key: key})
		p.mu.Unlock()
	}
}

// drainWarm stops the filler and removes the networks nobody took.
func (e *Executor) drainWarm(ctx context.Context) {
	p := &e.warm
	p.mu.Lock()
	stop := p.stop
	p.mu.Unlock()
	if stop != nil {
		stop()
	}
	p.wg.Wait()
	p.mu.Lock()
	ready := p.ready
	p.ready = nil
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, n := range ready {
		if err := e.api.NetworkRemove(ctx, n.id); err != nil && !isNotFound(err) {
			e.log.WarnContext(ctx, "removing a warm network", "network", n.name, "err", err)
		}
		e.release(n.key)
	}
}
