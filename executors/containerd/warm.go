package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"time"

	"github.com/runfleet/runfleet/executors/internal/warmpool"
)

// warmNS is a job network namespace set up on the bridge network ahead of
// time (CNI ADD done: address, routes, firewall rules): setting one up
// costs CNI ~80 ms, most of what a per-job network adds to a job's start.
// Each still serves exactly one job and is torn down with it; the pool
// (executors/internal/warmpool) only moves the set-up off the job's
// critical path. key is its ownership key, live until the Env that took
// it closes, so Reap leaves dir alone.
type warmNS struct {
	key string
	dir string // StateDir/<node>/<key>, holding the namespace's net-job
	net *jobNet
}

func newWarmPool(e *Executor, want int) *warmpool.Pool[warmNS] {
	return warmpool.New(want, e.makeWarmNS, e.dropWarmNS)
}

// makeWarmNS sets up one namespace ahead, claimed by a key of its own.
func (e *Executor) makeWarmNS(ctx context.Context) (warmNS, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	key := "warm-" + hex.EncodeToString(b[:])
	if err := e.claim(key); err != nil {
		return warmNS{}, err
	}
	dir := filepath.Join(e.stateDir, e.node, key)
	// A setup in flight is never cancelled (a drain waits for it and
	// tears the namespace down): a half-made one would be left behind.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	jn, err := e.net.setup(sctx, filepath.Join(dir, "net-job"), true)
	if err != nil {
		e.log.WarnContext(ctx, "setting up a warm network namespace failed; jobs set up their own", "err", err)
		if rerr := e.removeJobDir(sctx, dir); rerr != nil {
			e.log.WarnContext(ctx, "removing a failed warm network namespace", "dir", dir, "err", rerr)
		}
		e.release(key)
		return warmNS{}, err
	}
	return warmNS{key: key, dir: dir, net: jn}, nil
}

// dropWarmNS tears down a warm namespace nobody took.
func (e *Executor) dropWarmNS(ctx context.Context, w warmNS) {
	if err := e.removeJobDir(ctx, w.dir); err != nil {
		e.log.WarnContext(ctx, "removing a warm network namespace", "dir", w.dir, "err", err)
	}
	e.release(w.key)
}

// drainWarm stops the filler and tears down the namespaces nobody took.
func (e *Executor) drainWarm() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.warm.Drain(ctx)
}
