package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/runfleet/runfleet/runner/archive"
)

// benchTree writes ~500 small files (a node_modules-like tree) and four
// 1 MiB incompressible files, and returns its total size.
func benchTree(b *testing.B, root string) int64 {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var total int64
	write := func(name string, data []byte) {
		p := filepath.Join(root, name)
		must(b, os.MkdirAll(filepath.Dir(p), 0o755))
		must(b, os.WriteFile(p, data, 0o644))
		total += int64(len(data))
	}
	for i := range 500 {
		body := []byte(fmt.Sprintf("module.exports = function f%d() { return %d; }\n", i, rng.IntN(1e6)))
		for len(body) < 1024 {
			body = append(body, body...)
		}
		write(fmt.Sprintf("node_modules/pkg%02d/lib/file%03d.js", i%25, i), body[:512+rng.IntN(1024)])
	}
	for i := range 4 {
		blob := make([]byte, 1<<20)
		for j := range blob {
			blob[j] = byte(rng.Uint32())
		}
		write(fmt.Sprintf("vendor/blob%d.bin", i), blob)
	}
	return total
}

func BenchmarkSaveRestore(b *testing.B) {
	ctx := context.Background()
	src := b.TempDir()
	size := benchTree(b, src)
	store, err := NewLocalStore(b.TempDir(), 0, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	k := Key{Project: "bench/project", Name: "deps"}
	sel := archive.Selection{Paths: []string{"node_modules/", "vendor/**/*.bin"}}
	dst := b.TempDir()

	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		st, err := Save(ctx, store, k, src, sel)
		if err != nil {
			b.Fatal(err)
		}
		if st.Files != 504 {
			b.Fatalf("saved %d files, want 504", st.Files)
		}
		if _, err := Restore(ctx, store, []Key{k}, dst); err != nil {
			b.Fatal(err)
		}
	}
}
