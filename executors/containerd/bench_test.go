package containerd_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/executortest"
)

// BenchmarkCreateFirstByte measures the executor: Create (per-job network,
// hardened container) plus Exec of `echo x` until the first byte reaches
// the writer. Close is not timed.
func BenchmarkCreateFirstByte(b *testing.B) {
	executortest.BenchCreateFirstByte(b, newExecutor(b, fmt.Sprintf("rfb-exec-%d", time.Now().UnixNano())), testImage, executors.NetworkPerJob)
}

// BenchmarkCreateFirstByteNoNetwork is BenchmarkCreateFirstByte without
// the per-job network, to show what the network costs.
func BenchmarkCreateFirstByteNoNetwork(b *testing.B) {
	executortest.BenchCreateFirstByte(b, newExecutor(b, fmt.Sprintf("rfb-exec-%d", time.Now().UnixNano())), testImage, executors.NetworkNone)
}
