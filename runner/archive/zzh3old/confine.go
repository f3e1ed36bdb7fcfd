package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// maxLinkHops bounds symlink chains, as the kernel's ELOOP limit does.
const maxLinkHops = 40

// checkSymlink reports an ErrUnsafePath error when a symlink named name
// (slash path relative to rt, free of "..") with the given target would
// resolve outside rt. Resolution follows the symlinks already present in
// the tree component by component, as the kernel would, so a chain such as
// "d -> ." plus "d/x -> ../y" is caught; components that do not exist yet
// are resolved lexically.
func checkSymlink(rt *os.Root, name, target string) error {
	switch {
	case target == "":
		return fmt.Errorf("%w: symlink %s has an empty target", ErrUnsafePath, name)
	case strings.ContainsRune(target, 0):
		return fmt.Errorf("%w: symlink %s target contains NUL", ErrUnsafePath, name)
	case strings.HasPrefix(target, "/"):
		return fmt.Errorf("%w: symlink %s -> %s is absolute", ErrUnsafePath, name, target)
	}
	pending := splitSlash(target)
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		pending = append(splitSlash(name[:i]), pending...)
	}
	var cur []string
	hops := 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return fmt.Errorf("%w: symlink %s -> %s points outside the root", ErrUnsafePath, name, target)
			}
			cur = cur[:len(cur)-1]
			continue
		}
		next := strings.Join(append(cur[:len(cur):len(cur)], c), "/")
		info, err := rt.Lstat(next)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) && !isNotDir(err) {
				return fmt.Errorf("symlink %s: resolve %s: %w", name, next, err)
			}
			cur = append(cur, c)
			continue
		}
		if info.Mode().Type() != fs.ModeSymlink {
			cur = append(cur, c)
			continue
		}
		if hops++; hops > maxLinkHops {
			return fmt.Errorf("%w: symlink %s: too many levels of symbolic links", ErrUnsafePath, name)
		}
		t, err := rt.Readlink(next)
		if err != nil {
			return fmt.Errorf("symlink %s: %w", name, err)
		}
		if strings.HasPrefix(t, "/") {
			return fmt.Errorf("%w: symlink %s -> %s resolves through absolute link %s", ErrUnsafePath, name, target, next)
		}
		pending = append(splitSlash(t), pending...)
	}
	return nil
}

func splitSlash(p string) []string {
	return strings.Split(p, "/")
}

func isNotDir(err error) bool {
	return errors.Is(err, syscall.ENOTDIR)
}
