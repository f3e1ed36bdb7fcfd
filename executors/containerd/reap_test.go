package containerd_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestReapHalfMadeNetwork: an agent killed between creating a job's
// network namespace file and mounting the namespace on it (or halfway
// through removing it) leaves a plain file where the namespace was. The
// next start's reap still removes the job's state, for a bridge network
// and a loopback-only one, releasing the address without the namespace.
func TestReapHalfMadeNetwork(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bridge bool
	}{{"bridge", true}, {"loopback", false}} {
		t.Run(tc.name, func(t *testing.T) {
			node := uniqueNode(t)
			jobDir := filepath.Join(stateDir, node, "job-half")
			netDir := filepath.Join(jobDir, "net-job")
			if err := os.MkdirAll(netDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if tc.bridge {
				if err := os.WriteFile(filepath.Join(netDir, "bridge"), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(netDir, "cni-half"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			ex := newExecutor(t, node)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			if err := ex.Reap(ctx); err != nil {
				t.Fatalf("Reap with a half-made network namespace: %v", err)
			}
			if _, err := os.Stat(jobDir); !os.IsNotExist(err) {
				t.Fatalf("the job's state directory is left: %v", err)
			}
		})
	}
}
