package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	rclock "github.com/runfleet/runfleet/runner/clock"
)

const (
	// archiveName is the file holding one cache, as in gitlab-runner.
	archiveName = "cache.zip"
	// tempPrefix starts the names of archives being written.
	tempPrefix = "." + archiveName + ".tmp-"
	// staleTempAge is how old a leftover temporary file must be before
	// NewLocalStore removes it as debris of a crashed writer.
	staleTempAge = 24 * time.Hour
)

// LocalStore keeps caches in a local directory, laid out as gitlab-runner
// does: <dir>/<project path>/<key>/cache.zip (see Key.Path). Writes are
// atomic (temporary file in the same directory, fsync, rename), so readers
// holding an archive open keep reading the old inode. When the total size
// exceeds maxBytes, whole entries are evicted least recently used first
// (Get and Put both refresh an entry's mtime from the clock).
type LocalStore struct {
	dir      string
	maxBytes int64
	logger   *slog.Logger
	clock    Clock

	mu        sync.Mutex // serialises evictions and guards evictions
	evictions Evictions
}

// Evictions counts what LRU eviction removed over a store's lifetime.
type Evictions struct {
	Entries int64
	Bytes   int64
}

// NewLocalStore opens (creating if needed) a local store under dir.
// maxBytes <= 0 disables eviction. A nil logger discards logs; a nil clock
// is the system clock. Temporary files older than a day, left by a writer
// that crashed, are removed.
func NewLocalStore(dir string, maxBytes int64, logger *slog.Logger, clock Clock) (*LocalStore, error) {
	if dir == "" {
		return nil, errors.New("cache: local store: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("cache: local store: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("cache: local store: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = rclock.Real{}
	}
	s := &LocalStore{dir: abs, maxBytes: maxBytes, logger: logger, clock: clock}
	s.removeStaleTemps()
	return s, nil
}

// Dir returns the store's root directory.
func (s *LocalStore) Dir() string { return s.dir }

// Evictions returns the running totals of LRU eviction.
func (s *LocalStore) Evictions() Evictions {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evictions
}

// archivePath maps a key to its archive file, refusing unsafe keys.
func (s *LocalStore) archivePath(key Key) (string, error) {
	rel, err := key.Path()
	if err != nil {
		return "", err
	}
	p := filepath.Join(s.dir, filepath.FromSlash(rel), archiveName)
	// Key.Path guarantees this; checked again because it guards the disk.
	if !strings.HasPrefix(p, s.dir+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %q escapes the store", ErrInvalidKey, rel)
	}
	return p, nil
}

// Get opens the archive stored under key and marks it recently used. The
// returned *os.File also implements io.ReaderAt. A miss wraps ErrMiss.
func (s *LocalStore) Get(ctx context.Context, key Key) (io.ReadCloser, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("cache: get: %w", err)
	}
	p, err := s.archivePath(key)
	if err != nil {
		return nil, 0, fmt.Errorf("cache: get: %w", err)
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("cache: get %s: %w", p, ErrMiss)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("cache: get: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", p)
	}
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("cache: get: %w", err)
	}
	now := s.clock.Now()
	if err := os.Chtimes(p, now, now); err != nil {
		s.logger.Debug("cache: touch entry", "path", p, "err", err)
	}
	return f, fi.Size(), nil
}

// Put stores r's content as the archive for key, atomically, then evicts
// least recently used entries if the store is over its size limit. The
// entry just written is never evicted.
func (s *LocalStore) Put(ctx context.Context, key Key, r io.Reader) error {
	p, err := s.archivePath(key)
	if err != nil {
		return fmt.Errorf("cache: put: %w", err)
	}
	dir := filepath.Dir(p)
	tmp, err := createTemp(dir)
	if err != nil {
		return fmt.Errorf("cache: put: %w", err)
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := copyContext(ctx, tmp, r); err != nil {
		return fmt.Errorf("cache: put %s: %w", p, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("cache: put %s: %w", p, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cache: put %s: %w", p, err)
	}
	now := s.clock.Now()
	if err := os.Chtimes(tmp.Name(), now, now); err != nil {
		return fmt.Errorf("cache: put %s: %w", p, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("cache: put %s: %w", p, err)
	}
	renamed = true
	syncDir(dir)
	s.evict(ctx, p)
	return nil
}

// createTemp makes the directory and a temporary file in it. Eviction may
// remove a directory it just emptied between the two steps; retry then.
func createTemp(dir string) (*os.File, error) {
	var err error
	for range 5 {
		if err = os.MkdirAll(dir, 0o755); err != nil {
			continue
		}
		var f *os.File
		f, err = os.CreateTemp(dir, tempPrefix+"*")
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, err
}

// syncDir makes a rename durable; failure only weakens crash safety.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// copyContext copies like io.Copy but stops once ctx is done.
func copyContext(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		nr, rerr := src.Read(buf)
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
		}
		if errors.Is(rerr, io.EOF) {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
