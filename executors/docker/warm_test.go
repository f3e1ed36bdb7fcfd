package docker_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/docker"
)

func TestWarmNetworks(t *testing.T) {
	t.Parallel()
	node := uniqueNode(t)
	ex := newExecutor(t, node, func(o *docker.Options) { o.WarmNetworks = 1 })
	ctx := context.Background()
	spec := func(id string) executors.Spec {
		return executors.Spec{JobID: id, Node: node, Image: executors.Image{Name: testImage, PullPolicy: executors.PullNever}}
	}
	first, err := ex.Create(ctx, spec("warm-a"))
	if err != nil {
		t.Fatal(err)
	}
	// The first job made its own network and started the filler.
	deadline := time.Now().Add(30 * time.Second)
	for !hasWarm(t, node) {
		if time.Now().After(deadline) {
			t.Fatalf("no warm network appeared: %v", leftovers(t, node))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Reap must leave the warm network alone: it is owned.
	if err := ex.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	if !hasWarm(t, node) {
		t.Fatal("Reap removed a warm network")
	}
	second, err := ex.Create(ctx, spec("warm-b"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if res, err := second.Exec(ctx, executors.Step{Script: "cat /etc/hostname >/dev/null && echo ok"}, &out); err != nil || res.ExitCode != 0 {
		t.Fatalf("exec on a warm network: %v %+v %s", err, res, out.String())
	}
	for _, env := range []executors.Env{first, second} {
		if err := env.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := ex.Close(); err != nil {
		t.Fatal(err)
	}
	if l := leftovers(t, node); len(l) > 0 {
		t.Fatalf("leftovers after Close: %v", l)
	}
}

// hasWarm reports whether a warm network labelled for node exists.
func hasWarm(t *testing.T, node string) bool {
	for _, l := range leftovers(t, node) {
		if strings.Contains(l, "runfleet-warm-") {
			return true
		}
	}
	return false
}
