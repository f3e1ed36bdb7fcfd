package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// collector gathers the entries of one archive. Every file system access
// goes through an os.Root, so a symlink can never lead the walk outside the
// root: symlinks are recorded as symlinks and never descended into.
type collector struct {
	root    *os.Root
	exclude []string
	entries map[string]fs.FileInfo // slash path relative to root -> Lstat info
	stats   *Stats
}

func newCollector(root *os.Root, exclude []string, stats *Stats) (*collector, error) {
	c := &collector{root: root, entries: map[string]fs.FileInfo{}, stats: stats}
	for _, e := range exclude {
		p, err := cleanPattern(e)
		if err != nil {
			return nil, fmt.Errorf("exclude: %w", err)
		}
		c.exclude = append(c.exclude, p)
	}
	return c, nil
}

// excluded reports whether rel or one of its parent directories matches an
// exclude pattern.
func (c *collector) excluded(rel string) bool {
	for _, e := range c.exclude {
		for p := rel; p != "." && p != ""; p = path.Dir(p) {
			if doublestar.MatchUnvalidated(e, p) {
				return true
			}
		}
	}
	return false
}

// add records one entry; it returns whether the entry was taken.
func (c *collector) add(rel string, info fs.FileInfo) bool {
	switch t := info.Mode().Type(); {
	case t == 0, t == fs.ModeDir, t == fs.ModeSymlink:
		c.entries[rel] = info
		return true
	default:
		c.stats.warnf("%s: skipping special file (%s)", rel, t)
		return false
	}
}

// addPattern adds everything one cleaned pattern matches and returns the
// number of entries it matched.
func (c *collector) addPattern(ctx context.Context, pattern string) (int, error) {
	if !hasMeta(pattern) {
		return c.addLiteral(ctx, pattern)
	}
	base, _ := doublestar.SplitPattern(pattern)
	bounded := !strings.Contains(pattern, "**") && !strings.Contains(pattern, "{")
	maxDepth := depth(pattern)
	matched := 0
	err := fs.WalkDir(c.root.FS(), base, func(rel string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			c.stats.warnf("%s: %v", rel, err)
			return nil
		}
		if rel == "." {
			return nil
		}
		if c.excluded(rel) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if doublestar.MatchUnvalidated(pattern, rel) {
			n, err := c.addTree(ctx, rel)
			matched += n
			if err != nil {
				return err
			}
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() && bounded && depth(rel) >= maxDepth {
			return fs.SkipDir
		}
		return nil
	})
	return matched, err
}

// addLiteral adds a pattern without glob syntax: exactly that path.
func (c *collector) addLiteral(ctx context.Context, rel string) (int, error) {
	if rel != "." && c.excluded(rel) {
		return 0, nil
	}
	return c.addTree(ctx, rel)
}

// addTree adds rel and, when it is a real directory, everything below it
// that is not excluded. A missing rel adds nothing.
func (c *collector) addTree(ctx context.Context, rel string) (int, error) {
	info, err := c.root.Lstat(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		c.stats.warnf("%s: %v", rel, err)
		return 0, nil
	}
	if !info.IsDir() {
		if c.add(rel, info) {
			return 1, nil
		}
		return 0, nil
	}
	n := 0
	err = fs.WalkDir(c.root.FS(), rel, func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			c.stats.warnf("%s: %v", p, err)
			return nil
		}
		if p == "." {
			return nil
		}
		if c.excluded(p) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			c.stats.warnf("%s: %v", p, err)
			return nil
		}
		if c.add(p, fi) {
			n++
		}
		return nil
	})
	return n, err
}
