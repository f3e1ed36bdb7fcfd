package archive

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// FuzzExtract feeds arbitrary bytes (seeded with benign and hostile
// archives) to the concurrent extractor: it must never panic and never
// create anything outside the root, whatever it returns.
func FuzzExtract(f *testing.F) {
	seeds := [][]zent{
		{{name: "a/b", body: "x"}, {name: "a/", mode: fs.ModeDir | 0o755}},
		{{name: "../evil", body: "x"}},
		{{name: "l", mode: fs.ModeSymlink | 0o777, body: "../outside"}, {name: "l/pwned", body: "x"}},
		{{name: "d", mode: fs.ModeSymlink | 0o777, body: "."}, {name: "d/x", mode: fs.ModeSymlink | 0o777, body: "../outside"}},
		{{name: "f", body: "one"}, {name: "f", body: "two"}, {name: "f", mode: fs.ModeSymlink | 0o777, body: "g"}},
		{{name: "x/y", body: "y"}, {name: "x", mode: fs.ModeSymlink | 0o777, body: "z"}, {name: "x/q", body: "q"}},
	}
	for _, s := range seeds {
		f.Add(makeZip(f, s...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parent := t.TempDir()
		root := filepath.Join(parent, "root")
		_, _ = extract(context.Background(), bytes.NewReader(b), int64(len(b)), root, 2)
		ents, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() != "root" {
				t.Fatalf("created %q outside the root", e.Name())
			}
		}
	})
}
