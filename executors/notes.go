package executors

import (
	"fmt"
	"io"
	"strings"

	units "github.com/docker/go-units"
)

// LimitsNote describes the engine-enforced limits of r (all but DiskSize,
// which each executor describes with what it could enforce) as one line
// for the job log, or "" when r sets none.
func LimitsNote(r Resources) string {
	var parts []string
	if r.NanoCPUs > 0 {
		parts = append(parts, fmt.Sprintf("cpu %g (CFS quota)", float64(r.NanoCPUs)/1e9))
	}
	if r.Memory > 0 {
		swap := "no swap"
		switch {
		case r.MemorySwap < 0:
			swap = "unlimited swap"
		case r.MemorySwap > r.Memory:
			swap = "memory+swap " + units.BytesSize(float64(r.MemorySwap))
		}
		parts = append(parts, "memory "+units.BytesSize(float64(r.Memory))+" ("+swap+")")
	}
	if r.PidsLimit > 0 {
		parts = append(parts, fmt.Sprintf("%d processes", r.PidsLimit))
	}
	if r.ShmSize > 0 {
		parts = append(parts, "/dev/shm "+units.BytesSize(float64(r.ShmSize)))
	}
	if len(parts) == 0 {
		return ""
	}
	return "Limits: " + strings.Join(parts, ", ")
}

// PrivilegedWarning is the job-log line of a privileged job.
const PrivilegedWarning = "WARNING: this job runs PRIVILEGED: it has full control of the node"

// WriteNotes writes lines to w (nil: nowhere), one per line, skipping
// empty ones.
func WriteNotes(w io.Writer, lines ...string) {
	if w == nil {
		return
	}
	for _, l := range lines {
		if l != "" {
			fmt.Fprintln(w, l)
		}
	}
}
