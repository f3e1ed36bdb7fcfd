package archive

import (
	"fmt"
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Selection says which paths under a root go into an archive. It mirrors the
// `paths`, `exclude` and `untracked` keys of GitLab's cache and artifacts.
type Selection struct {
	// Paths are glob patterns relative to the root with doublestar semantics
	// ("**" matches any number of directories). A matched directory is added
	// with everything below it; "vendor/" and "vendor" mean the same.
	Paths []string
	// Exclude are glob patterns relative to the root; a path is left out when
	// it or any of its parent directories matches one of them.
	Exclude []string
	// Untracked adds the files `git ls-files --others --exclude-standard`
	// lists when the root is inside a git work tree.
	Untracked bool
}

// cleanPattern validates a user pattern and returns it in canonical form
// (slash separated, no "./" prefix, no trailing slash). Absolute patterns
// and any ".." component are rejected with ErrUnsafePath.
func cleanPattern(p string) (string, error) {
	c, err := cleanRel(p)
	if err != nil {
		return "", err
	}
	if !doublestar.ValidatePattern(c) {
		return "", fmt.Errorf("%w: %q", ErrInvalidPattern, p)
	}
	return c, nil
}

// cleanRel validates a path relative to the root and cleans it.
func cleanRel(p string) (string, error) {
	switch {
	case strings.TrimSpace(p) == "":
		return "", fmt.Errorf("%w: empty pattern", ErrInvalidPattern)
	case strings.ContainsRune(p, 0):
		return "", fmt.Errorf("%w: pattern %q contains NUL", ErrUnsafePath, p)
	case strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("%w: pattern %q is absolute; paths must be relative to the build directory", ErrUnsafePath, p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", fmt.Errorf("%w: pattern %q contains \"..\"; paths must stay inside the build directory", ErrUnsafePath, p)
		}
	}
	return path.Clean(p), nil
}

// hasMeta reports whether p contains glob syntax (or an escape).
func hasMeta(p string) bool {
	return strings.ContainsAny(p, `*?[{\`)
}

// depth counts the path segments of a slash path ("." has depth 0).
func depth(p string) int {
	if p == "." || p == "" {
		return 0
	}
	return strings.Count(p, "/") + 1
}
