package containerd_test

import (
	"os"
	"testing"

	"github.com/sasha-s/go-deadlock"
)

// TestMain turns off go-deadlock's lock-order check, which go-cni
// enables in -race builds only: it reports concurrent read locks of
// different CNI instances (one per test executor) as an inconsistent
// order and exits the test binary.
func TestMain(m *testing.M) {
	deadlock.Opts.DisableLockOrderDetection = true
	os.Exit(m.Run())
}
