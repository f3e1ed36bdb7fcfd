package gitlab

import (
	"context"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

// plainExecutor has only the base contract.
type plainExecutor struct{}

func (plainExecutor) Create(context.Context, executors.Spec) (executors.Env, error) { return nil, nil }
func (plainExecutor) Reap(context.Context) error                                    { return nil }

// firstStepExecutor also offers executors.FirstStepCreator.
type firstStepExecutor struct{ plainExecutor }

func (firstStepExecutor) CreateFirstStep(context.Context, executors.Spec, executors.Step) (executors.FirstStepEnv, error) {
	return nil, nil
}

func TestFirstStepIndex(t *testing.T) {
	script := []string{"echo hi"}
	tests := []struct {
		name  string
		ex    executors.Executor
		img   executors.Image
		steps []Step
		hooks []Hook
		want  int
	}{
		{"script first", firstStepExecutor{}, executors.Image{}, []Step{{Name: "script", Script: script}, {Name: "after_script", Script: script}}, nil, 0},
		{"after_script listed first", firstStepExecutor{}, executors.Image{}, []Step{{Name: "after_script", Script: script}, {Name: "script", Script: script}}, nil, 1},
		{"on_failure step skipped", firstStepExecutor{}, executors.Image{}, []Step{{Name: "x", When: "on_failure", Script: script}, {Name: "script", Script: script}}, nil, 1},
		{"executor without the capability", plainExecutor{}, executors.Image{}, []Step{{Name: "script", Script: script}}, nil, -1},
		{"image entrypoint", firstStepExecutor{}, executors.Image{Entrypoint: []string{"/init"}}, []Step{{Name: "script", Script: script}}, nil, -1},
		{"hook runs in the container first", firstStepExecutor{}, executors.Image{}, []Step{{Name: "script", Script: script}},
			[]Hook{{Name: "post_get_sources_script", Script: script}}, -1},
		{"empty first script", firstStepExecutor{}, executors.Image{}, []Step{{Name: "script"}}, nil, -1},
		{"no steps", firstStepExecutor{}, executors.Image{}, nil, nil, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &build{s: BuildSettings{Executor: tt.ex}, job: &JobResponse{Steps: tt.steps, Hooks: tt.hooks}}
			if got := b.firstStepIndex(tt.img); got != tt.want {
				t.Errorf("firstStepIndex = %d, want %d", got, tt.want)
			}
		})
	}
}
