package archive

import "errors"

// ErrUnsafePath reports a pattern, archive entry name or symlink target that
// would reach outside the root (absolute, containing "..", NUL, or a symlink
// resolving outside the root). Callers should treat it as hostile input.
var ErrUnsafePath = errors.New("unsafe path")

// ErrInvalidPattern reports a malformed glob pattern in a Selection.
var ErrInvalidPattern = errors.New("invalid pattern")

// ErrInvalidArchive reports an input that is not a readable zip archive.
var ErrInvalidArchive = errors.New("invalid archive")
