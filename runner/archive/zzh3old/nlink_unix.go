//go:build unix

package archive

import (
	"io/fs"
	"syscall"
)

// singleLink reports whether fi is known to have exactly one hard link,
// so writing into it in place cannot change a file elsewhere.
func singleLink(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 1
}
