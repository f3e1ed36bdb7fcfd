package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreateParallelDeterministic(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{}
	for i := range 300 {
		files[fmt.Sprintf("p%02d/f%03d.txt", i%17, i)] = strings.Repeat(fmt.Sprintf("line %d\n", i), i)
	}
	files["big.txt"] = strings.Repeat("big and compressible\n", packMax/10) // streamed by the writer
	writeTree(t, src, files)
	must(t, os.Symlink("big.txt", filepath.Join(src, "alias")))
	a, st := createZip(t, src, Selection{Paths: []string{"."}})
	b, _ := createZip(t, src, Selection{Paths: []string{"."}})
	if !bytes.Equal(a, b) {
		t.Fatal("two archives of the same tree differ")
	}
	if st.Files != len(files)+1 {
		t.Errorf("Files = %d, want %d", st.Files, len(files)+1)
	}
	zr, err := zip.NewReader(bytes.NewReader(a), int64(len(a)))
	must(t, err)
	for _, f := range zr.File {
		want, ok := files[f.Name]
		if !ok {
			continue
		}
		rc, err := f.Open()
		must(t, err)
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != want {
			t.Fatalf("%s: read back %d bytes, %v; want %d", f.Name, len(got), err, len(want))
		}
		if f.Flags&0x8 == 0 || f.Modified.IsZero() || f.Mode().Perm() != 0o644 {
			t.Errorf("%s: flags %#x, modified %v, mode %v", f.Name, f.Flags, f.Modified, f.Mode())
		}
		delete(files, f.Name)
	}
	if len(files) != 0 {
		t.Errorf("missing from the archive: %d files", len(files))
	}
}

func TestPackChangedFiles(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"grows": "small", "swapped": "a", "kept": "k"})
	rt, err := os.OpenRoot(root)
	must(t, err)
	defer rt.Close()
	entries := map[string]fs.FileInfo{}
	for _, n := range []string{"grows", "kept", "swapped"} {
		fi, err := rt.Lstat(n)
		must(t, err)
		entries[n] = fi
	}
	// After listing: one file grows past packMax in place, one is replaced
	// by another inode.
	must(t, os.WriteFile(filepath.Join(root, "grows"), bytes.Repeat([]byte("g"), packMax+10), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "swapped.new"), []byte("other"), 0o644))
	must(t, os.Rename(filepath.Join(root, "swapped.new"), filepath.Join(root, "swapped")))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pk := startPacker(ctx, rt, []string{"grows", "kept", "swapped"}, entries)
	defer pk.wait()
	want := []struct {
		stream bool
		warn   bool
		raw    string
	}{{stream: true}, {raw: "k"}, {warn: true}}
	for i, w := range want {
		r, err := pk.next(ctx, i)
		must(t, err)
		if r.err != nil || r.stream != w.stream || (r.warn != "") != w.warn || string(r.raw) != w.raw {
			t.Errorf("entry %d: %+v, want %+v", i, r, w)
		}
		pk.done(r)
	}
}

func TestCreateCancelledWhilePacking(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{}
	for i := range 200 {
		files[fmt.Sprintf("f%03d", i)] = strings.Repeat("x", 4096)
	}
	writeTree(t, src, files)
	ctx, cancel := context.WithCancel(context.Background())
	w := &cancelAfter{n: 2048, cancel: cancel}
	_, err := Create(ctx, w, src, Selection{Paths: []string{"."}})
	if err == nil || ctx.Err() == nil {
		t.Fatalf("err = %v after cancel", err)
	}
}

// cancelAfter cancels a context once n bytes were written to it.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	w.n -= len(p)
	if w.n <= 0 {
		w.cancel()
	}
	return len(p), nil
}
