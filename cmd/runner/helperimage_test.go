package main

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors/helperimage"
	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/gitlab"
)

// TestForGitLabHelperImage runs against the real Docker engine: a GitLab
// runner with the default helper_image gets the image on its engine (the
// agent builds it when missing; here make images already did) and the
// engine is remembered for rebuilding after a prune; a helper_image of
// the runner's own is never built (the job's pull policy pulls it).
func TestForGitLabHelperImage(t *testing.T) {
	own := fmt.Sprintf("runfleet/own-helper-%d:latest", time.Now().UnixNano()%1e9)
	for _, tt := range []struct {
		name        string
		helperImage string
		image       string // the image the engine must (not) hold afterwards
		wantBuilt   bool
	}{
		{"default", "", gitlab.DefaultHelperImage, true},
		{"default by name", gitlab.DefaultHelperImage, gitlab.DefaultHelperImage, true},
		{"own image", own, own, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			node := fmt.Sprintf("cmd-helper-%d", time.Now().UnixNano()%1e6)
			engs := newEngines(node, 0, slog.New(slog.DiscardHandler))
			defer engs.close()
			r := config.Runner{Name: "r", Executor: "docker", Docker: config.Docker{HelperImage: tt.helperImage}}
			ex, err := engs.forGitLab(t.Context(), r)
			if err != nil {
				t.Fatalf("forGitLab (the Docker engine and git are required): %v", err)
			}
			has, err := ex.(helperimage.Engine).HasImage(t.Context(), tt.image)
			if err != nil {
				t.Fatal(err)
			}
			if has != tt.wantBuilt || engs.helpers[executorKey(r)] != tt.wantBuilt {
				t.Fatalf("engine has %s: %v, remembered for prunes: %v; want %v", tt.image, has, engs.helpers[executorKey(r)], tt.wantBuilt)
			}
			if err := engs.rebuildHelpers(t.Context()); err != nil {
				t.Fatalf("rebuildHelpers: %v", err)
			}
		})
	}
}
