package containerd_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
)

// TestCancelledCreateLeavesNothing cancels Create at points spread over
// its work (network, volume, service and job containers): whether Create
// failed or finished first, once it returned (and a finished Env was
// closed) nothing labelled for the node is left, including objects whose
// creation answer the cancellation cut off.
func TestCancelledCreateLeavesNothing(t *testing.T) {
	node := fmt.Sprintf("rfc-cancel-%d", time.Now().UnixNano()%1e9)
	ex := newExecutor(t, node)
	img := executors.Image{Name: testImage, PullPolicy: executors.PullNever}
	for i, after := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond,
		30 * time.Millisecond, 60 * time.Millisecond, 120 * time.Millisecond, 250 * time.Millisecond} {
		ctx, cancel := context.WithCancel(t.Context())
		timer := time.AfterFunc(after, cancel)
		env, err := ex.Create(ctx, executors.Spec{
			JobID: fmt.Sprintf("cancel-%d", i), Node: node, Image: img,
			Mounts:   []executors.Mount{{Target: "/cache", Volume: true}},
			Services: []executors.Service{{Image: img, Aliases: []string{"svc"}}},
		})
		timer.Stop()
		cancel()
		if err == nil {
			cctx, ccancel := context.WithTimeout(t.Context(), time.Minute)
			if err := env.Close(cctx); err != nil {
				t.Errorf("close after %v: %v", after, err)
			}
			ccancel()
		}
		if left := leftovers(t, node); len(left) != 0 {
			t.Fatalf("Create cancelled after %v (err %v) left %q", after, err, left)
		}
	}
}
