package main

import (
	"context"
	"slices"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

// specRecorder is an executor with every optional create capability,
// recording the specs it was given.
type specRecorder struct{ specs []executors.Spec }

func (r *specRecorder) Create(_ context.Context, spec executors.Spec) (executors.Env, error) {
	r.specs = append(r.specs, spec)
	return nil, nil
}

func (r *specRecorder) Reap(context.Context) error { return nil }

func (r *specRecorder) CreateFirstStep(_ context.Context, spec executors.Spec, _ executors.Step) (executors.FirstStepEnv, error) {
	r.specs = append(r.specs, spec)
	return nil, nil
}

func (r *specRecorder) CreateLateFirstStep(_ context.Context, spec executors.Spec) (executors.LateFirstStepEnv, error) {
	r.specs = append(r.specs, spec)
	return nil, nil
}

// TestWithAllowedImagesKeepsCapabilities: a runner's allowed_images reach
// every way a job container is created, and the wrapper hides none of
// the executor's capabilities (warm job containers need the late one).
func TestWithAllowedImagesKeepsCapabilities(t *testing.T) {
	rec := &specRecorder{}
	allowed := []string{"alpine:*"}
	ex := withAllowedImages(rec, allowed)
	fs, ok := ex.(executors.FirstStepCreator)
	if !ok {
		t.Fatal("the wrapper hides executors.FirstStepCreator")
	}
	lc, ok := ex.(executors.LateFirstStepCreator)
	if !ok {
		t.Fatal("the wrapper hides executors.LateFirstStepCreator")
	}
	ctx := t.Context()
	_, _ = ex.Create(ctx, executors.Spec{})
	_, _ = fs.CreateFirstStep(ctx, executors.Spec{}, executors.Step{})
	_, _ = lc.CreateLateFirstStep(ctx, executors.Spec{})
	_, _ = lc.CreateLateFirstStep(ctx, executors.Spec{AllowedImages: []string{"own"}})
	if len(rec.specs) != 4 {
		t.Fatalf("%d creations reached the executor, want 4", len(rec.specs))
	}
	for i, spec := range rec.specs[:3] {
		if !slices.Equal(spec.AllowedImages, allowed) {
			t.Errorf("creation %d: AllowedImages %q, want the runner's %q", i, spec.AllowedImages, allowed)
		}
	}
	if got := rec.specs[3].AllowedImages; !slices.Equal(got, []string{"own"}) {
		t.Errorf("a spec's own list was replaced: %q", got)
	}
	if withAllowedImages(rec, nil) != executors.Executor(rec) {
		t.Error("without allowed_images the executor is wrapped")
	}
}
