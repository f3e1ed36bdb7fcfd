package docker

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
)

// newEndMark returns a random end mark for a first step's wrapper:
// "\x1erunfleet-end-<32 hex digits>\x1e".
func newEndMark() ([]byte, error) {
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return nil, fmt.Errorf("end mark: %w", err)
	}
	return []byte("\x1erunfleet-end-" + hex.EncodeToString(n[:]) + "\x1e"), nil
}

// endWriter passes the first step's stdout on to out up to the end mark,
// which it removes, and drops everything after it. It holds back a tail
// that could be the mark's beginning until the next write or flush.
type endWriter struct {
	out   io.Writer
	mark  []byte
	ended chan struct{} // closed when the mark has been seen

	mu      sync.Mutex
	held    []byte
	seen    bool
	stopped bool
}

func newEndWriter(out io.Writer, mark []byte) *endWriter {
	return &endWriter{out: out, mark: mark, ended: make(chan struct{})}
}

func (w *endWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen || w.stopped {
		return len(p), nil
	}
	buf := append(w.held, p...)
	w.held = nil
	if i := bytes.Index(buf, w.mark); i >= 0 {
		w.seen = true
		close(w.ended)
		return len(p), w.pass(buf[:i])
	}
	keep := 0
	for k := min(len(w.mark)-1, len(buf)); k > 0; k-- {
		if bytes.HasSuffix(buf, w.mark[:k]) {
			keep = k
			break
		}
	}
	w.held = append([]byte(nil), buf[len(buf)-keep:]...)
	return len(p), w.pass(buf[:len(buf)-keep])
}

// pass writes p to out; w.mu is held.
func (w *endWriter) pass(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	_, err := w.out.Write(p)
	return err
}

// flush passes on what was held back: the output ended without the mark.
func (w *endWriter) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	held := w.held
	w.held = nil
	if w.stopped {
		return nil
	}
	return w.pass(held)
}

// stop drops every later write: out is the caller's again.
func (w *endWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
}

// sawEnd reports whether the end mark arrived.
func (w *endWriter) sawEnd() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen
}

// statusLine keeps the first 64 bytes of the first step's stderr, where
// only its wrapper writes, and closes done at the first newline (or when
// 64 bytes came without one).
type statusLine struct {
	done chan struct{}

	mu       sync.Mutex
	b        []byte
	complete bool
}

func newStatusLine() *statusLine { return &statusLine{done: make(chan struct{})} }

func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if room := 64 - len(s.b); room > 0 {
		s.b = append(s.b, p[:min(room, len(p))]...)
	}
	if !s.complete && (bytes.IndexByte(s.b, '\n') >= 0 || len(s.b) == 64) {
		s.complete = true
		close(s.done)
	}
	return len(p), nil
}

func (s *statusLine) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}
