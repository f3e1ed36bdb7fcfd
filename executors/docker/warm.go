package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/docker/docker/api/types/network"

	"github.com/runfleet/runfleet/executors/internal/warmpool"
)

// labelWarm marks a network created ahead of time, before any job owned it.
const labelWarm = "dev.runfleet.warm"

// warmNet is a per-job bridge network created ahead of time: creating a
// network costs the engine ~200 ms, most of a job's start-up. Each still
// serves exactly one job and is removed with it; the pool
// (executors/internal/warmpool) only moves the creation off the job's
// critical path. key is its ownership key, which stays live until the
// Env that took it closes.
type warmNet struct{ id, name, key string }

func newWarmPool(e *Executor, want int) *warmpool.Pool[warmNet] {
	return warmpool.New(want, e.makeWarmNetwork, e.dropWarmNetwork)
}

// takeNetwork returns a warm network, or ok=false when none is ready.
func (e *Executor) takeNetwork() (warmNet, bool) { return e.warm.Take() }

// drainWarm stops the filler and removes the networks nobody took.
func (e *Executor) drainWarm(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	e.warm.Drain(ctx)
}

// makeWarmNetwork creates one network ahead, claimed by a key of its own.
func (e *Executor) makeWarmNetwork(ctx context.Context) (warmNet, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	key := "warm-" + hex.EncodeToString(b[:])
	if err := e.claim(key); err != nil {
		return warmNet{}, err
	}
	labels := objectLabels(nil, e.node, key, roleNetwork)
	labels[labelWarm] = "true"
	name := "runfleet-" + key
	// A create in flight is never cancelled (a drain waits for it and
	// removes the network): the engine finishes a cancelled create all
	// the same, and nothing would know the network's name.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	resp, err := e.api.NetworkCreate(cctx, name, network.CreateOptions{
		Driver: "bridge", Labels: labels, Options: map[string]string{bridgeOption: newBridgeName()},
	})
	if err != nil {
		e.release(key)
		e.log.WarnContext(ctx, "creating a warm network failed; jobs create their own", "err", err)
		return warmNet{}, err
	}
	return warmNet{id: resp.ID, name: name, key: key}, nil
}

// dropWarmNetwork removes a warm network nobody took.
func (e *Executor) dropWarmNetwork(ctx context.Context, n warmNet) {
	if err := e.api.NetworkRemove(ctx, n.id); err != nil && !isNotFound(err) {
		e.log.WarnContext(ctx, "removing a warm network", "network", n.name, "err", err)
	}
	e.release(n.key)
}
