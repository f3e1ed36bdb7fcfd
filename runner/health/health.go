// Package health watches the node's own resources the way the kubelet
// does: free disk and inodes on the agent's data paths and available
// memory. Crossing a threshold raises a condition (DiskPressure,
// MemoryPressure) so the agent stops taking new jobs and reclaims space,
// and clears it once the node is back within bounds.
package health

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Conditions.
const (
	DiskPressure   = "DiskPressure"
	MemoryPressure = "MemoryPressure"
)

// Thresholds below which a condition is raised. Zero disables a check.
type Thresholds struct {
	MinFreeDiskBytes    int64
	MinFreeDiskPercent  float64
	MinFreeInodePercent float64
	MinAvailMemPercent  float64
}

// DefaultThresholds are the kubelet's hard eviction defaults, roughly.
var DefaultThresholds = Thresholds{
	MinFreeDiskBytes:    2 << 30,
	MinFreeDiskPercent:  5,
	MinFreeInodePercent: 5,
	MinAvailMemPercent:  5,
}

// Status is one observation.
type Status struct {
	Conditions map[string]string // condition → why
}

// Check measures paths (the builds and cache directories, the engine's
// data root) and memory (from meminfo, normally /proc/meminfo).
func Check(paths []string, meminfo string, t Thresholds) (Status, error) {
	st := Status{Conditions: map[string]string{}}
	for _, p := range paths {
		var fs syscall.Statfs_t
		if err := syscall.Statfs(p, &fs); err != nil {
			return st, fmt.Errorf("statfs %s: %w", p, err)
		}
		free := int64(fs.Bavail) * int64(fs.Bsize)
		total := int64(fs.Blocks) * int64(fs.Bsize)
		switch {
		case t.MinFreeDiskBytes > 0 && free < t.MinFreeDiskBytes:
			st.Conditions[DiskPressure] = fmt.Sprintf("%s: %d MiB free", p, free>>20)
		case t.MinFreeDiskPercent > 0 && total > 0 && pct(free, total) < t.MinFreeDiskPercent:
			st.Conditions[DiskPressure] = fmt.Sprintf("%s: %.1f%% free", p, pct(free, total))
		case t.MinFreeInodePercent > 0 && fs.Files > 0 && pct(int64(fs.Ffree), int64(fs.Files)) < t.MinFreeInodePercent:
			st.Conditions[DiskPressure] = fmt.Sprintf("%s: %.1f%% inodes free", p, pct(int64(fs.Ffree), int64(fs.Files)))
		}
	}
	if t.MinAvailMemPercent > 0 && meminfo != "" {
		f, err := os.Open(meminfo)
		if err != nil {
			return st, fmt.Errorf("meminfo: %w", err)
		}
		avail, total, err := parseMeminfo(f)
		f.Close()
		if err != nil {
			return st, err
		}
		if total > 0 && pct(avail, total) < t.MinAvailMemPercent {
			st.Conditions[MemoryPressure] = fmt.Sprintf("%.1f%% memory available", pct(avail, total))
		}
	}
	return st, nil
}

func pct(part, whole int64) float64 { return 100 * float64(part) / float64(whole) }

// parseMeminfo returns MemAvailable and MemTotal in KiB.
func parseMeminfo(r io.Reader) (avail, total int64, err error) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		n, perr := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if perr != nil {
			continue
		}
		switch k {
		case "MemAvailable":
			avail = n
		case "MemTotal":
			total = n
		}
	}
	if total == 0 {
		return 0, 0, fmt.Errorf("meminfo: no MemTotal")
	}
	return avail, total, s.Err()
}

// Node is what the watcher acts on: the agent.
type Node interface {
	Pause(condition string)
	Resume(condition string)
}

// Reclaimer frees space under pressure (old caches, unused images).
type Reclaimer func(ctx context.Context, condition string) error

// Watch checks every interval until ctx ends: a raised condition pauses
// the node and runs reclaim; a cleared one resumes it.
func Watch(ctx context.Context, paths []string, meminfo string, t Thresholds, interval time.Duration, node Node, reclaim Reclaimer, onError func(error)) {
	active := map[string]bool{}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		st, err := Check(paths, meminfo, t)
		if err != nil {
			onError(err)
		} else {
			for _, c := range []string{DiskPressure, MemoryPressure} {
				why, on := st.Conditions[c]
				switch {
				case on && !active[c]:
					active[c] = true
					node.Pause(c)
					if err := reclaim(ctx, c); err != nil {
						onError(fmt.Errorf("reclaiming under %s (%s): %w", c, why, err))
					}
				case !on && active[c]:
					delete(active, c)
					node.Resume(c)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
