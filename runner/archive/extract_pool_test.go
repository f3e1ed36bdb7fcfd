package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// workerCounts are the pool sizes the concurrent-extraction tests try:
// inline, the smallest pool, and more workers than CPUs.
var workerCounts = []int{1, 2, 8}

func TestExtractConcurrentMatchesSequential(t *testing.T) {
	var ents []zent
	for i := range 200 {
		if i%20 == 0 {
			ents = append(ents, zent{name: fmt.Sprintf("d%02d/", i/20), mode: fs.ModeDir | 0o755})
		}
		ents = append(ents, zent{name: fmt.Sprintf("d%02d/f%03d", i/20, i), body: strings.Repeat(fmt.Sprint(i), 1+i*97)})
	}
	// Names that recur: the last entry wins, whatever finishes first.
	ents = append(ents,
		zent{name: "dup", body: strings.Repeat("first, and much longer ", 5000)},
		zent{name: "dup", body: "second"},
		zent{name: "d00/f000", body: "rewritten"},
		zent{name: "gone", body: strings.Repeat("x", 1<<20)},
		zent{name: "gone", mode: fs.ModeSymlink | 0o777, body: "dup"},
		zent{name: "dir-later", body: strings.Repeat("y", 1<<20)},
		zent{name: "dir-later/", mode: fs.ModeDir | 0o755},
		zent{name: "dir-later/z", body: "z"},
	)
	b := makeZip(t, ents...)
	want := map[string]string{"dup": "second", "d00/f000": "rewritten", "gone": "second", "dir-later/z": "z"}
	for i := 1; i < 200; i++ {
		want[fmt.Sprintf("d%02d/f%03d", i/20, i)] = strings.Repeat(fmt.Sprint(i), 1+i*97)
	}
	var trees [][]string
	for _, w := range workerCounts {
		t.Run(fmt.Sprint("workers=", w), func(t *testing.T) {
			root := t.TempDir()
			st, err := extract(context.Background(), bytes.NewReader(b), int64(len(b)), root, w)
			if err != nil {
				t.Fatal(err)
			}
			if st.Files != len(ents)-11 {
				t.Errorf("Files = %d, want %d", st.Files, len(ents)-11)
			}
			for name, body := range want {
				got, err := os.ReadFile(filepath.Join(root, name))
				if err != nil || string(got) != body {
					t.Fatalf("%s = %.40q (%d bytes), %v; want %.40q", name, got, len(got), err, body)
				}
			}
			if fi, err := os.Lstat(filepath.Join(root, "gone")); err != nil || fi.Mode().Type() != fs.ModeSymlink {
				t.Errorf("gone: %v, %v; want a symlink", fi, err)
			}
			trees = append(trees, listTree(t, root))
		})
	}
	for i := 1; i < len(trees); i++ {
		if !slices.Equal(trees[0], trees[i]) {
			t.Fatalf("trees differ between worker counts:\n%q\n%q", trees[0], trees[i])
		}
	}
}

func TestExtractConcurrentSafety(t *testing.T) {
	// The hostile cases of TestExtractSymlinkSafety, each behind enough
	// regular files that workers are busy when the planner reaches them.
	var pad []zent
	for i := range 50 {
		pad = append(pad, zent{name: fmt.Sprintf("pad/%02d", i), body: strings.Repeat("p", 64<<10)})
	}
	tests := []struct {
		name string
		ents []zent
	}{
		{"link then write through it", []zent{
			{name: "l", mode: fs.ModeSymlink | 0o777, body: "../outside"},
			{name: "l/pwned", body: "x"},
		}},
		{"file replaced by escaping link", []zent{
			{name: "f", body: strings.Repeat("x", 1<<20)},
			{name: "f", mode: fs.ModeSymlink | 0o777, body: "../outside/f"},
		}},
		{"dir replaced by link, then written", []zent{
			{name: "d/a", body: strings.Repeat("x", 1<<20)},
			{name: "d", mode: fs.ModeSymlink | 0o777, body: "../outside"},
			{name: "d/b", body: "x"},
		}},
	}
	for _, tt := range tests {
		for _, w := range workerCounts {
			t.Run(fmt.Sprintf("%s/workers=%d", tt.name, w), func(t *testing.T) {
				parent := t.TempDir()
				root := filepath.Join(parent, "root")
				outside := filepath.Join(parent, "outside")
				must(t, os.Mkdir(outside, 0o755))
				b := makeZip(t, slices.Concat(pad, tt.ents)...)
				_, err := extract(context.Background(), bytes.NewReader(b), int64(len(b)), root, w)
				if !errors.Is(err, ErrUnsafePath) {
					t.Fatalf("err = %v, want ErrUnsafePath", err)
				}
				if got := listTree(t, outside); len(got) != 0 {
					t.Fatalf("written outside root: %q", got)
				}
			})
		}
	}
}

// corruptZip returns an archive whose entry "bad" fails its CRC check,
// placed among good entries.
func corruptZip(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range 20 {
		w, err := zw.Create(fmt.Sprintf("ok%02d", i))
		must(t, err)
		_, err = w.Write(bytes.Repeat([]byte{byte(i)}, 32<<10))
		must(t, err)
	}
	body := []byte("the real content")
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name: "bad", Method: zip.Store, CRC32: crc32.ChecksumIEEE(body) + 1,
		CompressedSize64: uint64(len(body)), UncompressedSize64: uint64(len(body)),
	})
	must(t, err)
	_, err = w.Write(body)
	must(t, err)
	for i := range 20 {
		w, err := zw.Create(fmt.Sprintf("z%02d", i))
		must(t, err)
		_, err = w.Write([]byte("z"))
		must(t, err)
	}
	must(t, zw.Close())
	return buf.Bytes()
}

func TestExtractConcurrentReportsDamage(t *testing.T) {
	b := corruptZip(t)
	for _, w := range workerCounts {
		t.Run(fmt.Sprint("workers=", w), func(t *testing.T) {
			_, err := extract(context.Background(), bytes.NewReader(b), int64(len(b)), t.TempDir(), w)
			if !errors.Is(err, ErrInvalidArchive) || !errors.Is(err, zip.ErrChecksum) || !strings.Contains(err.Error(), "bad") {
				t.Fatalf("err = %v, want ErrInvalidArchive wrapping zip.ErrChecksum for entry bad", err)
			}
		})
	}
}

func TestCopyFullFillsBuffer(t *testing.T) {
	// A reader returning tiny chunks still reaches the writer in full buffers.
	src := &chunkReader{data: bytes.Repeat([]byte("abc"), 1000), chunk: 7}
	var w countingWriter
	n, err := copyFull(context.Background(), &w, src, make([]byte, 1024))
	if err != nil || n != 3000 {
		t.Fatalf("copyFull = %d, %v", n, err)
	}
	if want := []int{1024, 1024, 952}; !slices.Equal(w.writes, want) {
		t.Fatalf("writes = %v, want %v", w.writes, want)
	}
}

type chunkReader struct {
	data  []byte
	chunk int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.chunk)], r.data)
	r.data = r.data[n:]
	return n, nil
}

type countingWriter struct{ writes []int }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return len(p), nil
}
