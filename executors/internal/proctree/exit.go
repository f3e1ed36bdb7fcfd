package proctree

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// InitExited reports whether the container's init process has ended:
// gone, a zombie, or its PID now another process's (another start time).
// Once the init of a PID namespace has exited, no process of the
// namespace runs any more: the kernel kills them all and waits for them
// before the init becomes a zombie. (An exiting init leaves its cgroups
// before that: its cgroup file says nothing.) ErrHidden means the
// processes were not visible when Procs was made, so nothing can be told.
func (p Procs) InitExited() (bool, error) {
	if p.cgroup == "" || p.initStart == 0 {
		return false, ErrHidden
	}
	st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.initPID), "stat"))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	state, start, err := stateAndStart(st)
	if err != nil {
		return false, fmt.Errorf("/proc/%d/stat: %w", p.initPID, err)
	}
	return state == "Z" || state == "X" || start != p.initStart, nil
}

// stateAndStart reads the state and start time of a /proc/<pid>/stat.
func stateAndStart(b []byte) (string, uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", 0, errors.New("no command name")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 {
		return "", 0, fmt.Errorf("%d fields", len(f))
	}
	start, err := strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("start time: %w", err)
	}
	return string(f[0]), start, nil
}

// Of reports whether the processes Procs located are container id's:
// its cgroup path names the container (the engines' cgroups do), so a
// PID reused by another process before Procs was made is told apart.
func (p Procs) Of(id string) bool {
	if id == "" {
		return false
	}
	for rest := p.cgroup; ; {
		i := strings.Index(rest, id)
		if i < 0 {
			return false
		}
		// The whole name, not the prefix of a longer one ("job" of
		// "job-steps"): a path element ends there, or a unit's suffix.
		if end := rest[i+len(id):]; end == "" || strings.ContainsRune("/.\n", rune(end[0])) {
			return true
		}
		rest = rest[i+1:]
	}
}

// KillInit SIGKILLs the container's init, if it has not exited: the
// kernel then ends every process of its PID namespace. The signal goes
// through a pidfd opened before the process is checked, so a PID taken
// by another process meanwhile is never signalled. ErrHidden means it
// cannot be seen (see InitExited).
func (p Procs) KillInit() error {
	if p.cgroup == "" || p.initStart == 0 {
		return ErrHidden
	}
	fd, err := unix.PidfdOpen(p.initPID, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil // gone
	}
	if err != nil {
		return fmt.Errorf("pidfd of init %d: %w", p.initPID, err)
	}
	defer unix.Close(fd)
	done, err := p.InitExited()
	if err != nil || done {
		return err
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill init %d: %w", p.initPID, err)
	}
	return nil
}

// initPoll is how often AwaitInitExit looks.
const initPoll = 2 * time.Millisecond

// AwaitInitExit waits until InitExited, or ctx ends (its error), or it
// cannot tell (ErrHidden, or a /proc read error).
func (p Procs) AwaitInitExit(ctx context.Context) error {
	t := time.NewTicker(initPoll)
	defer t.Stop()
	for {
		done, err := p.InitExited()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
