package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/docker"
	"github.com/runfleet/runfleet/runner/clock"
	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/gitlab"
)

// manualClock's timers fire when the test sends on c.
type manualClock struct{ c chan time.Time }

func (m manualClock) Now() time.Time                     { return time.Now() }
func (m manualClock) NewTimer(time.Duration) clock.Timer { return manualTimer(m) }

type manualTimer struct{ c chan time.Time }

func (m manualTimer) C() <-chan time.Time      { return m.c }
func (m manualTimer) Stop() bool               { return true }
func (m manualTimer) Reset(time.Duration) bool { return true }

// TestReapPeriodically runs against the real Docker engine: on each tick
// the shared executor removes what a previous agent of the node left
// (an Env of another executor, so not live here) and keeps its own live
// job, which still runs commands afterwards.
func TestReapPeriodically(t *testing.T) {
	node := fmt.Sprintf("cmd-reap-%d", time.Now().UnixNano()%1e6)
	logger := slog.New(slog.DiscardHandler)
	shared, err := docker.New(docker.Options{Node: node, Logger: logger})
	if err != nil {
		t.Fatalf("docker executor (the Docker engine is required): %v", err)
	}
	defer shared.Close()
	crashed, err := docker.New(docker.Options{Node: node, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer crashed.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := func(id string) executors.Spec {
		return executors.Spec{JobID: id, Node: node, Image: executors.Image{Name: "runfleet/busybox:latest", PullPolicy: executors.PullNever}}
	}
	live, err := shared.Create(ctx, spec("live"))
	if err != nil {
		t.Fatalf("create (run 'make images' first): %v", err)
	}
	defer live.Close(context.Background())
	left, err := crashed.Create(ctx, spec("left"))
	if err != nil {
		t.Fatal(err)
	}
	defer left.Close(context.Background())

	tick := manualClock{c: make(chan time.Time)}
	done := make(chan struct{})
	rctx, stop := context.WithCancel(ctx)
	go func() { reapPeriodically(rctx, tick, time.Minute, []nodeExecutor{shared}, logger); close(done) }()
	select {
	case tick.c <- time.Now():
	case <-time.After(10 * time.Second):
		t.Fatal("the reaper did not wait for its ticker")
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var out bytes.Buffer
		res, err := left.Exec(ctx, executors.Step{Script: "true"}, &out)
		if err != nil || res.ExitCode != 0 {
			break // reaped
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the leftover container to be reaped")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var out bytes.Buffer
	if res, err := live.Exec(ctx, executors.Step{Script: "echo alive"}, &out); err != nil || res.ExitCode != 0 || out.String() != "alive\n" {
		t.Fatalf("the live job after a reap: %+v %v %q", res, err, out.String())
	}
	stop()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the reaper did not stop with its context")
	}
}

// TestReapPeriodicallySweepsSourceStores: the runner's source stores are
// swept by the periodic reaper, on its ticks, not when a job starts.
func TestReapPeriodicallySweepsSourceStores(t *testing.T) {
	builds := t.TempDir()
	r := config.Runner{BuildsDir: builds, Token: "glrt-abcdefghijklmnop", SourcesStoreTTL: time.Hour}
	store := filepath.Join(builds, ".sources", r.ShortToken(), "0", "g", "p.git")
	if err := os.MkdirAll(store, 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(store, old, old); err != nil {
		t.Fatal(err)
	}
	stores := gitlab.NewSourceStores(r, time.Now, slog.New(slog.DiscardHandler))
	tick := manualClock{c: make(chan time.Time)}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		reapPeriodically(ctx, tick, time.Minute, nil, slog.New(slog.DiscardHandler), stores)
		close(done)
	}()
	defer func() {
		stop()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("timed out waiting for reapPeriodically to return after its context ended")
		}
	}()
	if _, err := os.Stat(store); err != nil {
		t.Fatalf("swept before the first tick: %v", err)
	}
	for i := range 2 { // the second tick is taken once the first sweep is done
		select {
		case tick.c <- time.Now():
		case <-time.After(10 * time.Second):
			t.Fatalf("the reaper did not wait for tick %d", i)
		}
	}
	if _, err := os.Stat(store); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a store unused for the ttl was not swept: %v", err)
	}
}
