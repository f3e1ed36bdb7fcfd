package proctree

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// procInfo is what KillStep needs to know about one process.
type procInfo struct {
	ppid  int
	start uint64 // start time in clock ticks since boot
}

// ErrHidden means the container's processes cannot be found in this
// process's /proc (another PID namespace or no access).
var ErrHidden = errors.New("container processes are not visible in /proc")

// KillStep SIGKILLs the process tree rooted at the exec's host PID root,
// plus processes the step orphaned (reparented to the container's init,
// other than the container's main process). It first freezes the tree
// with SIGSTOP, pass after pass until no new process appears, so nothing
// can fork away while it is being walked. It returns how many processes
// it signalled.
func (p Procs) KillStep(root int) (int, error) {
	if p.cgroup == "" {
		return 0, ErrHidden
	}
	var stopped []int
	seen := map[int]bool{}
	for pass := 0; pass < 100; pass++ {
		procs, err := p.members()
		if err != nil {
			return 0, err
		}
		if _, ok := procs[p.initPID]; !ok {
			return 0, fmt.Errorf("init PID %d: %w", p.initPID, ErrHidden)
		}
		fresh := 0
		for _, pid := range stepProcs(procs, p.initPID, root) {
			if seen[pid] {
				continue
			}
			seen[pid] = true
			stopped = append(stopped, pid)
			fresh++
			_ = syscall.Kill(pid, syscall.SIGSTOP) // gone already is fine
		}
		if fresh == 0 {
			break
		}
	}
	for _, pid := range stopped {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	awaitDeath(stopped, time.Second)
	return len(stopped), nil
}

// awaitDeath waits up to limit for pids to exit (gone or zombie), so that
// when a cancelled Exec returns its processes are no longer running.
func awaitDeath(pids []int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for _, pid := range pids {
		for time.Now().Before(deadline) {
			b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
			if err != nil {
				break
			}
			if _, alive := parseStat(b); !alive {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// stepProcs returns root's descendants (root included) and the orphans
// under initPID with their descendants. The oldest child of initPID is the
// container's main process and is spared, with its own children.
func stepProcs(procs map[int]procInfo, initPID, root int) []int {
	children := map[int][]int{}
	for pid, pi := range procs {
		children[pi.ppid] = append(children[pi.ppid], pid)
	}
	var queue []int
	if _, ok := procs[root]; ok && root != initPID {
		queue = append(queue, root)
	}
	main, mainStart := 0, uint64(0)
	for _, c := range children[initPID] {
		if s := procs[c].start; main == 0 || s < mainStart || (s == mainStart && c < main) {
			main, mainStart = c, s
		}
	}
	for _, c := range children[initPID] {
		if c != main && c != root {
			queue = append(queue, c)
		}
	}
	var out []int
	seen := map[int]bool{}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		out = append(out, pid)
		queue = append(queue, children[pid]...)
	}
	return out
}

// members lists the host processes that share the container's cgroups.
func (p Procs) members() (map[int]procInfo, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHidden, err)
	}
	want := []byte(p.cgroup)
	out := map[int]procInfo{}
	for _, de := range entries {
		pid, err := strconv.Atoi(de.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", de.Name())
		cg, err := os.ReadFile(filepath.Join(dir, "cgroup"))
		if err != nil || !bytes.Equal(cg, want) {
			continue
		}
		st, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		if pi, ok := parseStat(st); ok {
			out[pid] = pi
		}
	}
	return out, nil
}

// parseStat reads ppid and starttime from /proc/<pid>/stat. Zombies are
// skipped (ok false): they hold nothing and cannot be signalled usefully.
func parseStat(b []byte) (procInfo, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := bytes.Fields(b[i+1:])
	// f[0]=state f[1]=ppid ... f[19]=starttime (fields 3, 4 and 22 of proc(5)).
	if len(f) < 20 || string(f[0]) == "Z" || string(f[0]) == "X" {
		return procInfo{}, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	start, err2 := strconv.ParseUint(string(f[19]), 10, 64)
	if err1 != nil || err2 != nil {
		return procInfo{}, false
	}
	return procInfo{ppid: ppid, start: start}, true
}
