package proctree

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Procs locates a running container's processes and memory
// cgroup on the host through /proc and /sys/fs/cgroup. Fields are empty
// when the host does not expose them to this process (another PID
// namespace, no /proc access); callers then fall back to the engine.
type Procs struct {
	initPID int    // host PID of the container's PID 1 (docker-init)
	cgroup  string // content of /proc/<initPID>/cgroup: identifies members
	// initStart is the init's start time (clock ticks since boot): a
	// later process under the same PID has another.
	initStart uint64
	oomFile   string // memory.oom_control (v1) or memory.events (v2)
}

// New inspects the container whose PID 1 is initPID.
func New(initPID int) Procs {
	p := Procs{initPID: initPID}
	if initPID <= 0 {
		return p
	}
	// The start time before and after the cgroup: both read from one
	// process, not from one and a later holder of its PID.
	start := func() uint64 {
		st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(initPID), "stat"))
		if err != nil {
			return 0
		}
		pi, ok := parseStat(st)
		if !ok {
			return 0
		}
		return pi.start
	}
	before := start()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(initPID), "cgroup"))
	if err != nil || before == 0 || start() != before {
		return p
	}
	p.initStart = before
	p.cgroup = string(b)
	p.oomFile = oomFile(p.cgroup)
	return p
}

// oomFile finds the file counting OOM kills for the cgroup described by
// the content of a /proc/<pid>/cgroup file, preferring cgroup v1's memory
// controller (hybrid hosts list both).
func oomFile(procCgroup string) string {
	var v2 string
	for _, line := range strings.Split(strings.TrimSpace(procCgroup), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				f := filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.oom_control")
				if _, err := os.Stat(f); err == nil {
					return f
				}
			}
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
		}
	}
	if v2 != "" {
		f := filepath.Join("/sys/fs/cgroup", v2, "memory.events")
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	return ""
}

// OOMKills returns the cgroup's OOM-kill counter, or -1 if unknown.
func (p Procs) OOMKills() int64 {
	if p.oomFile == "" {
		return -1
	}
	b, err := os.ReadFile(p.oomFile)
	if err != nil {
		return -1
	}
	return parseOOMKill(b)
}

// parseOOMKill extracts the "oom_kill N" line of memory.oom_control or
// memory.events, or -1.
func parseOOMKill(b []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == "oom_kill" {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}
