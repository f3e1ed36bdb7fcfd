package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// ErrMiss is returned when no archive exists for a key (or, from Restore,
// for any of the keys tried). It wraps fs.ErrNotExist, so callers and store
// implementations can test either.
var ErrMiss = fmt.Errorf("cache miss: %w", fs.ErrNotExist)

// Getter reads whole cache archives. A missing key is an error satisfying
// errors.Is(err, fs.ErrNotExist). The returned reader may also implement
// io.ReaderAt (a local file does), which lets Restore skip spooling.
type Getter interface {
	Get(ctx context.Context, key Key) (rc io.ReadCloser, size int64, err error)
}

// Putter writes whole cache archives. Put is atomic: a concurrent Get sees
// the complete old archive or the complete new one, never a partial write,
// and of two concurrent Puts of one key the last to complete wins.
type Putter interface {
	Put(ctx context.Context, key Key, r io.Reader) error
}

// Store is a cache backend: the local directory store here, an
// S3-compatible store behind the same contract.
type Store interface {
	Getter
	Putter
}

// Clock tells the time; stores use it for LRU bookkeeping so tests can
// control it (runner/clock's clocks satisfy it).
type Clock interface {
	Now() time.Time
}

// isMiss reports whether err means "no such cache".
func isMiss(err error) bool {
	return errors.Is(err, fs.ErrNotExist)
}
