//go:build linux

package archive

import (
	"os"
	"syscall"
	"time"
	"unsafe"
)

// fdTimes reports whether setFileTimes works on an open file, which lets
// workers finish a file without looking its name up again.
const fdTimes = true

// setFileTimes sets f's access and modification times through its
// descriptor (utimensat with a NULL path, as glibc's futimens does), so no
// path is resolved and a rename or removal of the name cannot redirect it.
func setFileTimes(f *os.File, t time.Time) error {
	ts := [2]syscall.Timespec{syscall.NsecToTimespec(t.UnixNano()), syscall.NsecToTimespec(t.UnixNano())}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall6(syscall.SYS_UTIMENSAT, fd, 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	}); err != nil {
		return err
	}
	if errno != 0 {
		return &os.PathError{Op: "futimens", Path: f.Name(), Err: errno}
	}
	return nil
}
