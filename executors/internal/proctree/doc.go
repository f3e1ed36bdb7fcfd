// Package proctree finds a container's processes and memory cgroup on the
// host through /proc and /sys/fs/cgroup, for the executors that run jobs
// in containers: it kills a cancelled step's process tree (and what it
// orphaned) without touching the container's main process, and reads the
// cgroup's OOM-kill counter. It needs the host's PID namespace; callers
// fall back to their engine's kill when ErrHidden is returned.
package proctree
