package cache

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

func TestLocalStoreGetPut(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, 0, newFakeClock())
	k := Key{Project: "group/project", Name: "deps/main-protected"}

	if _, _, err := s.Get(ctx, k); !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrMiss) {
		t.Fatalf("Get before Put: err = %v, want a miss", err)
	}
	for _, body := range []string{"first", "second"} {
		if err := s.Put(ctx, k, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, s, k)
		if err != nil || string(got) != body {
			t.Fatalf("Get = %q, %v; want %q", got, err, body)
		}
	}
	// gitlab-runner's layout, with the key's "/" kept inside one directory.
	want := filepath.Join(s.Dir(), "group", "project", "deps%2Fmain-protected", "cache.zip")
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("archive not at %s: %v", want, err)
	}
	if leftovers := tempFiles(t, s.Dir()); len(leftovers) != 0 {
		t.Fatalf("temporary files left: %q", leftovers)
	}
}

func TestLocalStoreFailedPutKeepsOldArchive(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, 0, newFakeClock())
	k := Key{Project: "g/p", Name: "k"}
	if err := s.Put(ctx, k, strings.NewReader("good")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("upload broke")
	broken := io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(boom))
	if err := s.Put(ctx, k, broken); !errors.Is(err, boom) {
		t.Fatalf("Put = %v, want %v", err, boom)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Put(cctx, k, strings.NewReader("cancelled")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with cancelled ctx = %v", err)
	}
	if got, err := readAll(t, s, k); err != nil || string(got) != "good" {
		t.Fatalf("Get = %q, %v; want the old archive", got, err)
	}
	if leftovers := tempFiles(t, s.Dir()); len(leftovers) != 0 {
		t.Fatalf("temporary files left: %q", leftovers)
	}
}

func TestLocalStoreHostileKeys(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	dir := filepath.Join(parent, "store")
	s, err := NewLocalStore(dir, 0, nil, newFakeClock())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		key     Key
		wantErr bool
	}{
		{"dot-dot name", Key{Project: "g/p", Name: ".."}, false},
		{"traversal name", Key{Project: "g/p", Name: "../../../../escape"}, false},
		{"absolute name", Key{Project: "g/p", Name: "/tmp/escape"}, false},
		{"backslash name", Key{Project: "g/p", Name: `..\..\escape`}, false},
		{"NUL name", Key{Project: "g/p", Name: "a\x00b"}, false},
		{"traversal project", Key{Project: "../../escape", Name: "k"}, false},
		{"absolute project", Key{Project: "/escape", Name: "k"}, true},
		{"empty project", Key{Project: "", Name: "k"}, true},
		{"empty name", Key{Project: "g/p", Name: ""}, true},
		{"huge name", Key{Project: "g/p", Name: strings.Repeat("n", 2000)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Put(ctx, tt.key, strings.NewReader("x"))
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("Put = %v, want ErrInvalidKey", err)
				}
				if _, _, err := s.Get(ctx, tt.key); !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("Get = %v, want ErrInvalidKey", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if got, err := readAll(t, s, tt.key); err != nil || string(got) != "x" {
				t.Fatalf("Get = %q, %v", got, err)
			}
		})
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "store" {
		t.Fatalf("something was written beside the store: %v", entries)
	}
}

// TestLocalStoreConcurrentPutGet has 8 writers race on one key while
// readers fetch it: every read must be one complete archive that some
// writer wrote.
func TestLocalStoreConcurrentPutGet(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, 0, nil)
	k := Key{Project: "g/p", Name: "shared"}

	const writers = 8
	contents := map[string]bool{}
	payloads := make([][]byte, writers)
	for i := range payloads {
		// Large enough that a write takes several syscalls.
		payloads[i] = zipOf(t, strings.Repeat(string(rune('a'+i)), 256<<10))
		contents[string(payloads[i])] = true
	}

	var wg sync.WaitGroup
	errs := make(chan error, writers*20)
	for i := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 5 {
				if err := s.Put(ctx, k, bytes.NewReader(payloads[i])); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 10 {
				got, err := readAll(t, s, k)
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				if !contents[string(got)] {
					errs <- errors.New("Get returned an archive nobody wrote (torn write?)")
					return
				}
				if _, err := zip.NewReader(bytes.NewReader(got), int64(len(got))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := readAll(t, s, k)
	if err != nil || !contents[string(got)] {
		t.Fatalf("final Get = %d bytes, %v", len(got), err)
	}
	if leftovers := tempFiles(t, s.Dir()); len(leftovers) != 0 {
		t.Fatalf("temporary files left: %q", leftovers)
	}
}

func TestLocalStoreLRU(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	s := newStore(t, 250, clock)
	key := func(n string) Key { return Key{Project: "g/p", Name: n} }
	put := func(n string, size int) {
		t.Helper()
		clock.Advance(time.Minute)
		if err := s.Put(ctx, key(n), strings.NewReader(strings.Repeat("x", size))); err != nil {
			t.Fatal(err)
		}
	}
	get := func(n string) {
		t.Helper()
		clock.Advance(time.Minute)
		rc, _, err := s.Get(ctx, key(n))
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	present := func() []string {
		var out []string
		for _, n := range []string{"a", "b", "c", "d", "big"} {
			if _, err := os.Stat(filepath.Join(s.Dir(), "g", "p", n, "cache.zip")); err == nil {
				out = append(out, n)
			}
		}
		return out
	}

	steps := []struct {
		name    string
		do      func()
		want    []string
		evicted Evictions
	}{
		{"fill under the cap", func() { put("a", 100); put("b", 100) }, []string{"a", "b"}, Evictions{}},
		{"a used after b", func() { get("a") }, []string{"a", "b"}, Evictions{}},
		{"c evicts least recently used b", func() { put("c", 100) }, []string{"a", "c"}, Evictions{1, 100}},
		{"d evicts a", func() { put("d", 100) }, []string{"c", "d"}, Evictions{2, 200}},
		{"an entry over the cap alone is kept, all others go", func() { put("big", 300) }, []string{"big"}, Evictions{4, 400}},
	}
	for _, st := range steps {
		st.do()
		if got := present(); strings.Join(got, ",") != strings.Join(st.want, ",") {
			t.Fatalf("%s: entries = %v, want %v", st.name, got, st.want)
		}
		if got := s.Evictions(); got != st.evicted {
			t.Fatalf("%s: evictions = %+v, want %+v", st.name, got, st.evicted)
		}
	}
	// Evicted entries leave no empty directories behind.
	if _, err := os.Stat(filepath.Join(s.Dir(), "g", "p", "a")); !os.IsNotExist(err) {
		t.Fatalf("evicted entry's directory remains: %v", err)
	}
}

func TestNewLocalStoreRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	stale := filepath.Join(dir, "g", "p", "k", tempPrefix+"1")
	fresh := filepath.Join(dir, "g", "p", "k", tempPrefix+"2")
	must(t, os.MkdirAll(filepath.Dir(stale), 0o755))
	must(t, os.WriteFile(stale, []byte("x"), 0o644))
	must(t, os.WriteFile(fresh, []byte("x"), 0o644))
	old := clock.Now().Add(-48 * time.Hour)
	must(t, os.Chtimes(stale, old, old))
	now := clock.Now()
	must(t, os.Chtimes(fresh, now, now))

	if _, err := NewLocalStore(dir, 0, nil, clock); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temp file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp file removed: %v", err)
	}
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), tempPrefix) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
