package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidKey reports a cache key or project path that cannot be made
// into a safe path (empty, too long, or an empty project path segment).
var ErrInvalidKey = errors.New("invalid cache key")

// Limits on user-supplied names, in bytes.
const (
	// MaxKeyBytes bounds a raw cache key or project path.
	MaxKeyBytes = 1024
	// maxSegmentBytes is NAME_MAX: the longest single path component.
	maxSegmentBytes = 255
	// shortenedPrefix is how much of an over-long segment is kept before
	// the hash that keeps it unique.
	shortenedPrefix = 200
)

// Key names one cache: the GitLab project's path and the job's cache key
// (GitLab has already appended -protected / -non_protected). It is never
// flattened into a compound string; Path gives its place in a store.
type Key struct {
	// Project is the project's full path, e.g. "group/sub/project".
	Project string
	// Name is the job's cache key as the user wrote it (after GitLab's
	// variable expansion), e.g. "deps-main-protected".
	Name string
	// ProjectID is the project's numeric ID. Stores that keep
	// gitlab-runner's object layout (S3Store) name objects by it.
	ProjectID int64
}

// Path returns the key's relative, slash-separated location in a store:
// the project's path segments, each sanitised, then SanitizeKey(Name) as a
// single final segment. Joined to a store's root it never leaves it.
//
// Layout as in gitlab-runner (<project path>/<key>/cache.zip), with one
// deliberate difference: a "/" inside Name is encoded, not a sub-directory.
// Otherwise project "a" with key "b/c" and project "a/b" with key "c" would
// share one cache, letting one project poison another's.
func (k Key) Path() (string, error) {
	project, err := sanitizeProject(k.Project)
	if err != nil {
		return "", err
	}
	name, err := SanitizeKey(k.Name)
	if err != nil {
		return "", err
	}
	return project + "/" + name, nil
}

// LogValue renders the key for log/slog.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("project", k.Project), slog.String("name", k.Name))
}

// SanitizeKey turns a user-supplied cache key into one safe path segment.
//
// The choice: neutralise, rather than reject, whatever a file name cannot
// safely hold, by percent-encoding it. "/" and "\" (separators), control
// characters (C0, DEL, C1; NUL included) and bytes that are not UTF-8
// become %XX per byte;
// a key that is exactly "." or ".." becomes %2E or %2E%2E. "%" itself is
// kept, so the function is idempotent (SanitizeKey of a result returns it
// unchanged) at the price of "a/b" and the literal "a%2Fb" naming the same
// cache, which only a project can do to itself. A result longer than 255
// bytes is shortened to a prefix plus a hash of the whole key. Rejected with
// ErrInvalidKey: the empty key and keys longer than MaxKeyBytes.
func SanitizeKey(key string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(key) > MaxKeyBytes {
		return "", fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidKey, len(key), MaxKeyBytes)
	}
	return sanitizeSegment(key), nil
}

// sanitizeProject sanitises a project path segment by segment, keeping "/"
// as the separator. Empty segments (leading, trailing or doubled slashes)
// are rejected: a project path from GitLab never has them.
func sanitizeProject(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%w: empty project path", ErrInvalidKey)
	}
	if len(p) > MaxKeyBytes {
		return "", fmt.Errorf("%w: project path of %d bytes, longer than %d", ErrInvalidKey, len(p), MaxKeyBytes)
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if s == "" {
			return "", fmt.Errorf("%w: project path %q has an empty segment", ErrInvalidKey, p)
		}
		segs[i] = sanitizeSegment(s)
	}
	return strings.Join(segs, "/"), nil
}

// sanitizeSegment encodes s into a single safe, non-empty path component.
func sanitizeSegment(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1, r == '/', r == '\\', unicode.IsControl(r):
			for _, c := range []byte(s[i : i+size]) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	out := b.String()
	switch out {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	if len(out) > maxSegmentBytes {
		out = shorten(out, s)
	}
	return out
}

// shorten cuts an over-long encoded segment at a character boundary and
// appends a hash of the original so distinct long keys stay distinct.
func shorten(encoded, original string) string {
	cut := shortenedPrefix
	for cut > 0 && !utf8.RuneStart(encoded[cut]) {
		cut--
	}
	sum := sha256.Sum256([]byte(original))
	return encoded[:cut] + "~" + hex.EncodeToString(sum[:16])
}
