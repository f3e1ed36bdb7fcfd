package cache

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/runner/archive"
)

// recordingGetter serves archives from a map, records the keys asked for,
// and fails keys listed in broken.
type recordingGetter struct {
	archives map[string][]byte
	broken   map[string]error
	asked    []string
}

func (g *recordingGetter) Get(_ context.Context, k Key) (io.ReadCloser, int64, error) {
	g.asked = append(g.asked, k.Name)
	if err := g.broken[k.Name]; err != nil {
		return nil, 0, err
	}
	b, ok := g.archives[k.Name]
	if !ok {
		return nil, 0, ErrMiss
	}
	// A plain reader (no ReaderAt), as an object store would give.
	return io.NopCloser(strings.NewReader(string(b))), int64(len(b)), nil
}

func TestRestoreFallbackOrder(t *testing.T) {
	errDown := errors.New("storage down")
	keys := func(names ...string) []Key {
		var out []Key
		for _, n := range names {
			out = append(out, Key{Project: "g/p", Name: n})
		}
		return out
	}
	tests := []struct {
		name      string
		available []string
		broken    []string
		try       []string
		wantHit   string
		wantAsked []string
		wantErr   error
	}{
		{"primary hits", []string{"main", "fallback"}, nil, []string{"main", "fallback"}, "main", []string{"main"}, nil},
		{"first fallback", []string{"fb1", "fb2"}, nil, []string{"main", "fb1", "fb2"}, "fb1", []string{"main", "fb1"}, nil},
		{"last fallback", []string{"fb2"}, nil, []string{"main", "fb1", "fb2"}, "fb2", []string{"main", "fb1", "fb2"}, nil},
		{"broken key is skipped", []string{"fb1"}, []string{"main"}, []string{"main", "fb1"}, "fb1", []string{"main", "fb1"}, nil},
		{"all miss", nil, nil, []string{"main", "fb1"}, "", []string{"main", "fb1"}, fs.ErrNotExist},
		{"miss and failure report the failure", nil, []string{"fb1"}, []string{"main", "fb1"}, "", []string{"main", "fb1"}, errDown},
		{"no keys", nil, nil, nil, "", nil, ErrMiss},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &recordingGetter{archives: map[string][]byte{}, broken: map[string]error{}}
			for _, n := range tt.available {
				g.archives[n] = zipOf(t, "from "+n)
			}
			for _, n := range tt.broken {
				g.broken[n] = errDown
			}
			root := t.TempDir()
			hit, err := Restore(context.Background(), g, keys(tt.try...), root)
			if !slices.Equal(g.asked, tt.wantAsked) {
				t.Errorf("asked %v, want %v", g.asked, tt.wantAsked)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if errors.Is(tt.wantErr, errDown) && errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("a failure must not look like a plain miss: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if hit.Name != tt.wantHit {
				t.Errorf("hit %q, want %q", hit.Name, tt.wantHit)
			}
			got, err := os.ReadFile(filepath.Join(root, "payload.txt"))
			if err != nil || string(got) != "from "+tt.wantHit {
				t.Errorf("restored %q, %v", got, err)
			}
		})
	}
}

func TestRestoreRejectsHostileArchive(t *testing.T) {
	s := newStore(t, 0, newFakeClock())
	k := Key{Project: "g/p", Name: "evil"}
	must(t, s.Put(context.Background(), k, strings.NewReader(string(zipNamed(t, "../escape")))))
	parent := t.TempDir()
	_, err := Restore(context.Background(), s, []Key{k}, filepath.Join(parent, "build"))
	if !errors.Is(err, archive.ErrUnsafePath) {
		t.Fatalf("err = %v, want archive.ErrUnsafePath", err)
	}
	if _, err := os.Stat(filepath.Join(parent, "escape")); !os.IsNotExist(err) {
		t.Fatalf("file escaped the build directory")
	}
}

func TestSaveRestoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, 0, newFakeClock())
	src := t.TempDir()
	for name, body := range map[string]string{
		"node_modules/a/index.js": "a",
		"node_modules/b/index.js": "b",
		"build/app.log":           "log",
		"build/app.bin":           "bin",
	} {
		p := filepath.Join(src, filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(body), 0o644))
	}
	k := Key{Project: "g/p", Name: "deps"}
	sel := archive.Selection{Paths: []string{"node_modules/", "build"}, Exclude: []string{"**/*.log"}}
	st, err := Save(ctx, s, k, src, sel)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 3 {
		t.Errorf("saved %d files, want 3", st.Files)
	}

	dst := t.TempDir()
	hit, err := Restore(ctx, s, []Key{{Project: "g/p", Name: "other"}, k}, dst)
	if err != nil || hit != k {
		t.Fatalf("Restore = %v, %v", hit, err)
	}
	for _, name := range []string{"node_modules/a/index.js", "node_modules/b/index.js", "build/app.bin"} {
		if _, err := os.Stat(filepath.Join(dst, name)); err != nil {
			t.Errorf("%s not restored: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "build/app.log")); !os.IsNotExist(err) {
		t.Errorf("excluded file restored")
	}
}

func TestSaveNothingKeepsExistingCache(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, 0, newFakeClock())
	k := Key{Project: "g/p", Name: "deps"}
	must(t, s.Put(ctx, k, strings.NewReader("previous")))
	st, err := Save(ctx, s, k, t.TempDir(), archive.Selection{Paths: []string{"missing/"}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 0 || len(st.Warnings) != 2 {
		t.Errorf("stats = %+v, want no files and two warnings", st)
	}
	if got, err := readAll(t, s, k); err != nil || string(got) != "previous" {
		t.Fatalf("cache = %q, %v; want it untouched", got, err)
	}
}

func TestSaveRejectsBadInput(t *testing.T) {
	s := newStore(t, 0, newFakeClock())
	tests := []struct {
		name string
		key  Key
		sel  archive.Selection
		want error
	}{
		{"bad key", Key{Project: "", Name: "k"}, archive.Selection{Paths: []string{"."}}, ErrInvalidKey},
		{"escaping path", Key{Project: "g/p", Name: "k"}, archive.Selection{Paths: []string{"../x"}}, archive.ErrUnsafePath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Save(context.Background(), s, tt.key, t.TempDir(), tt.sel); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
