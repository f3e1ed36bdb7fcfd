package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreateStoresIncompressible(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 300<<10) // larger than the copy buffer
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := strings.Repeat("export const answer = 42;\n", 20000)
	files := map[string]string{
		"random.bin":     string(random),
		"small-rand.bin": string(random[:1000]), // too short to judge, but deflate does not shrink it
		"small.txt":      strings.Repeat("small but compressible ", 40),
		"text.js":        text,
		"dep.tar.GZ":     "short but named as compressed",
		"empty":          "",
	}
	want := map[string]uint16{
		"random.bin":     zip.Store,
		"small-rand.bin": zip.Store,
		"small.txt":      zip.Deflate,
		"text.js":        zip.Deflate,
		"dep.tar.GZ":     zip.Store,
		"empty":          zip.Deflate,
	}
	src := t.TempDir()
	writeTree(t, src, files)
	b, _ := createZip(t, src, Selection{Paths: []string{"."}})
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if m, ok := want[f.Name]; ok && f.Method != m {
			t.Errorf("%s: method %d, want %d", f.Name, f.Method, m)
		}
	}
	dst := t.TempDir()
	if _, err := Extract(context.Background(), bytes.NewReader(b), int64(len(b)), dst); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(got) != body {
			t.Errorf("%s: round trip gave %d bytes, %v; want %d", name, len(got), err, len(body))
		}
	}
}

func TestEntropy(t *testing.T) {
	tests := []struct {
		name     string
		in       []byte
		min, max float64
	}{
		{"one symbol", bytes.Repeat([]byte{'a'}, 1000), 0, 0},
		{"two symbols", bytes.Repeat([]byte("ab"), 1000), 1, 1},
		{"all bytes evenly", bytes.Repeat(func() []byte {
			b := make([]byte, 256)
			for i := range b {
				b[i] = byte(i)
			}
			return b
		}(), 64), 8, 8},
	}
	for _, tt := range tests {
		if h := entropy(tt.in); h < tt.min-1e-9 || h > tt.max+1e-9 {
			t.Errorf("%s: entropy %v, want in [%v, %v]", tt.name, h, tt.min, tt.max)
		}
	}
}
