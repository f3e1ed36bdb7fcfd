package scaleset

import (
	"context"
	"fmt"
	"time"

	"github.com/runfleet/runfleet/runner/github"
)

// ContainerLauncher runs scale-set runners with the label mode's
// container launcher (runner/github.RunnerLauncher): the official runner
// image in a container of the executor in use, with the slot's limits,
// the shared tool cache and the job hooks. Only the encoded JIT config
// enters the container.
type ContainerLauncher struct {
	Launcher *github.RunnerLauncher
	// CloseTimeout bounds removing the container. Default 30 s.
	CloseTimeout time.Duration
}

var _ Launcher = ContainerLauncher{}

// Run starts the runner's container and waits for the runner to exit
// (or ctx to end), then removes the container.
func (c ContainerLauncher) Run(ctx context.Context, r Runner) (err error) {
	lr, err := c.Launcher.Launch(ctx, r.Name, r.EncodedJITConfig)
	if err != nil {
		return err
	}
	defer func() {
		d := c.CloseTimeout
		if d <= 0 {
			d = 30 * time.Second
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d)
		defer cancel()
		if cerr := lr.Close(cctx); cerr != nil && err == nil {
			err = fmt.Errorf("remove runner container %s: %w", r.Name, cerr)
		}
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-lr.Done():
	}
	res, err := lr.Result()
	if err != nil {
		return fmt.Errorf("runner %s: %w", r.Name, err)
	}
	if v := lr.Refused(); v != "" { // GitHub refused the image's runner as outdated
		return fmt.Errorf("runner %s: %w", r.Name, &github.RunnerOutdatedError{Image: c.Launcher.ImageName(), Version: v})
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("runner %s exited with status %d", r.Name, res.ExitCode)
	}
	return nil
}
