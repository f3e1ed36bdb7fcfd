package gitlab

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"sort"
	"strings"
)

// MaskedText replaces every secret in the job log.
const MaskedText = "[MASKED]"

// ErrMaskerClosed is returned by writes after Close.
var ErrMaskerClosed = errors.New("gitlab: masker closed")

// Masker is an io.WriteCloser that copies a stream to w with every secret
// replaced by "[MASKED]", also when a secret is split across writes, and
// with every token that starts with one of the given prefixes (a prefix
// followed by [A-Za-z0-9_-]+) replaced by the prefix and "[MASKED]".
// URL-encoded forms of the secrets are masked too.
//
// The output depends only on the whole stream, never on how it was split
// into writes: at each position the longest secret wins, and only bytes that
// may still start a secret or a prefixed token are held back until the next
// write (or Close). If a token and a secret start at the same position the
// one covering more wins. A secret that begins inside a prefixed token and
// ends after it is masked only as far as the token reaches.
//
// Close flushes the held-back bytes; it does not close w. A Masker is not
// safe for concurrent use.
type Masker struct {
	w        io.Writer
	secrets  [][]byte // longest first
	prefixes [][]byte // longest first
	starts   [256]bool
	pend     []byte
	out      []byte
	inToken  bool // dropping the rest of a masked token
	closed   bool
	err      error
}

// NewMasker returns a Masker writing to w. Empty secrets and prefixes are
// ignored.
func NewMasker(w io.Writer, secrets []string, prefixes []string) *Masker {
	m := &Masker{w: w}
	seen := map[string]bool{}
	add := func(list *[][]byte, s string) {
		if s == "" || seen[s] {
			return
		}
		seen[s] = true
		*list = append(*list, []byte(s))
		m.starts[s[0]] = true
	}
	for _, s := range secrets {
		add(&m.secrets, s)
		add(&m.secrets, url.QueryEscape(s))
		add(&m.secrets, url.PathEscape(s))
		add(&m.secrets, strings.ReplaceAll(url.QueryEscape(s), "+", "%20"))
	}
	for _, p := range prefixes {
		add(&m.prefixes, p)
	}
	longestFirst := func(l [][]byte) {
		sort.SliceStable(l, func(i, j int) bool { return len(l[i]) > len(l[j]) })
	}
	longestFirst(m.secrets)
	longestFirst(m.prefixes)
	return m
}

// Write masks p and writes what can be decided so far. It reports len(p)
// unless the underlying writer failed.
func (m *Masker) Write(p []byte) (int, error) {
	if m.closed {
		return 0, ErrMaskerClosed
	}
	if m.err != nil {
		return 0, m.err
	}
	m.pend = append(m.pend, p...)
	if err := m.process(false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close writes the held-back bytes. It is idempotent.
func (m *Masker) Close() error {
	if m.closed {
		return m.err
	}
	m.closed = true
	if m.err != nil {
		return m.err
	}
	return m.process(true)
}

// process consumes as much of pend as can be decided; final means the
// stream ended.
func (m *Masker) process(final bool) error {
	out := m.out[:0]
	pend := m.pend
	i := 0
	for i < len(pend) {
		if m.inToken {
			if isTokenByte(pend[i]) {
				i++
				continue
			}
			m.inToken = false
		}
		if !m.starts[pend[i]] {
			j := i + 1
			for j < len(pend) && !m.starts[pend[j]] {
				j++
			}
			out = append(out, pend[i:j]...)
			i = j
			continue
		}
		n, prefix, decided := m.matchAt(pend[i:], final)
		if !decided {
			break
		}
		switch {
		case prefix > 0:
			out = append(out, pend[i:i+prefix]...)
			out = append(out, MaskedText...)
			i += prefix
			m.inToken = true
		case n > 0:
			out = append(out, MaskedText...)
			i += n
		default:
			out = append(out, pend[i])
			i++
		}
	}
	m.pend = append(m.pend[:0], pend[i:]...)
	m.out = out
	if len(out) > 0 {
		if _, err := m.w.Write(out); err != nil {
			m.err = err
			return err
		}
	}
	return nil
}

// matchAt decides what starts at rem[0]: a secret of length n, a prefixed
// token whose prefix has length prefix, or nothing (both 0). decided is
// false when more input is needed to tell.
func (m *Masker) matchAt(rem []byte, final bool) (n, prefix int, decided bool) {
	for _, s := range m.secrets {
		switch {
		case len(rem) >= len(s):
			if n == 0 && bytes.HasPrefix(rem, s) {
				n = len(s) // longest first: the first full match is the longest
			}
		case !final && bytes.HasPrefix(s, rem):
			return 0, 0, false // a longer secret may still match
		}
	}
	for _, p := range m.prefixes {
		switch {
		case len(rem) > len(p):
			if prefix == 0 && bytes.HasPrefix(rem, p) && isTokenByte(rem[len(p)]) {
				prefix = len(p)
			}
		case !final && bytes.HasPrefix(p, rem):
			return 0, 0, false // the prefix (or its first token byte) may follow
		}
	}
	if prefix > 0 && n > 0 && (n <= prefix || !allTokenBytes(rem[prefix:n])) {
		prefix = 0 // the secret lies in the visible prefix or reaches beyond the token
	}
	return n, prefix, true
}

func isTokenByte(c byte) bool {
	return c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func allTokenBytes(b []byte) bool {
	for _, c := range b {
		if !isTokenByte(c) {
			return false
		}
	}
	return true
}
