package cache

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// zipNamed builds an archive with one entry of the given (maybe hostile) name.
func zipNamed(t testing.TB, name string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	if _, err := zw.Create(name); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipOf builds a small valid archive holding one file with the given body.
func zipOf(t testing.TB, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("payload.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, body); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAll fetches a key and returns its bytes.
func readAll(t testing.TB, s Getter, k Key) ([]byte, error) {
	t.Helper()
	rc, size, err := s.Get(context.Background(), k)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != size {
		return nil, fmt.Errorf("read %d bytes, Get said %d", len(b), size)
	}
	return b, nil
}

func newStore(t testing.TB, maxBytes int64, clock Clock) *LocalStore {
	t.Helper()
	s, err := NewLocalStore(t.TempDir(), maxBytes, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitAll waits for wg or fails the test after a minute, naming what it
// waited for.
func waitAll(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(time.Minute):
		t.Fatalf("timed out after 1m waiting for %s", what)
	}
}
