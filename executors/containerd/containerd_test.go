package containerd_test

import (
	"testing"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/executortest"
)

func TestConformance(t *testing.T) {
	executortest.Run(t, executortest.Harness{
		New:       func(t *testing.T, node string) executors.Executor { return newExecutor(t, node) },
		Image:     testImage,
		Leftovers: leftovers,
		FirstStep: true,
	})
}
