package gitlab

import (
	"context"
	"fmt"
	"log/slog"

	units "github.com/docker/go-units"

	"github.com/runfleet/runfleet/executors/diskcap"
)

// capBuildDir mounts a filesystem of size bytes on the slot's build
// directory for this job (ext4 on a loop device, ~60 ms; a tmpfs where
// loop devices are missing) and says in the job log what was applied.
// The build directory then starts empty and goes with the job. When
// neither can be mounted the job runs uncapped and the log says so.
func (b *build) capBuildDir(ctx context.Context, size int64) {
	human := units.BytesSize(float64(size))
	log := b.s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// A crashed agent may have left this slot's cap mounted.
	if err := diskcap.Unmount(b.hostDir, b.hostDir+".img"); err != nil {
		log.WarnContext(ctx, "stale build directory cap", "dir", b.hostDir, "err", err)
	}
	c, err := diskcap.Mount(ctx, b.hostDir, size, diskcap.Loop, b.hostDir+".img")
	what := "ext4 on a loop device"
	if err != nil {
		log.WarnContext(ctx, "no loop device for the build directory cap; trying tmpfs", "err", err)
		c, err = diskcap.Mount(ctx, b.hostDir, size, diskcap.Tmpfs, "")
		what = "tmpfs, counted in the node's memory"
	}
	if err != nil {
		log.ErrorContext(ctx, "cannot cap the build directory", "dir", b.hostDir, "err", err)
		fmt.Fprintf(b.rep, "\x1b[33;1mWARNING: Disk: the build directory %s is NOT capped: %v\x1b[0;m\n", containerBuildsDir, err)
		return
	}
	b.buildCap = c
	fmt.Fprintf(b.rep, "Disk: the build directory %s is capped at %s (%s); it starts empty and is removed with the job\n",
		containerBuildsDir, human, what)
}
