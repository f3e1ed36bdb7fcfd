package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/archive"
)

// bigTree writes a ~500 MB tree shaped like a dependency cache: 20,000
// small compressible source files (~10 KiB each, ~200 MB) in 400
// packages, and 300 incompressible 1 MiB blobs (~300 MB). It returns the
// total bytes.
func bigTree(b *testing.B, root string) int64 {
	b.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	var total int64
	write := func(name string, data []byte) {
		p := filepath.Join(root, name)
		must(b, os.MkdirAll(filepath.Dir(p), 0o755))
		must(b, os.WriteFile(p, data, 0o644))
		total += int64(len(data))
	}
	var src strings.Builder
	for i := range 20000 {
		src.Reset()
		for src.Len() < 10<<10 {
			fmt.Fprintf(&src, "export function f%d_%d(a, b) { return a * %d + b - %d; }\n", i, src.Len(), rng.IntN(1e6), rng.IntN(1e3))
		}
		write(fmt.Sprintf("node_modules/pkg%03d/lib/file%05d.js", i%400, i), []byte(src.String()))
	}
	blob := make([]byte, 1<<20)
	for i := range 300 {
		for j := 0; j < len(blob); j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				blob[j+k] = byte(v >> (8 * k))
			}
		}
		write(fmt.Sprintf("vendor/blobs/blob%03d.bin", i), blob)
	}
	return total
}

// BenchmarkRestore500MB restores a ~500 MB cache from the local store
// into an empty build directory and, in the same iteration, unpacks an
// uncompressed tar of the same tree with `tar -x` into another: the
// baseline. restore-vs-tar is tar's time over Restore's (goal >= 0.8).
func BenchmarkRestore500MB(b *testing.B) {
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		b.Fatalf("tar is the baseline: %v", err)
	}
	ctx := context.Background()
	work := b.TempDir()
	src := filepath.Join(work, "src")
	size := bigTree(b, src)
	store, err := NewLocalStore(filepath.Join(work, "store"), 0, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	k := Key{Project: "bench/project", Name: "deps"}
	if _, err := Save(ctx, store, k, src, archive.Selection{Paths: []string{"node_modules/", "vendor/"}}); err != nil {
		b.Fatal(err)
	}
	tarball := filepath.Join(work, "same.tar")
	if out, err := exec.Command(tarBin, "-cf", tarball, "-C", src, "node_modules", "vendor").CombinedOutput(); err != nil {
		b.Fatalf("tar -c: %v: %s", err, out)
	}
	b.SetBytes(size)
	var restoreT, tarT time.Duration
	restore := func(dst string) {
		if _, err := Restore(ctx, store, []Key{k}, dst); err != nil {
			b.Fatal(err)
		}
	}
	untar := func(dst string) {
		must(b, os.MkdirAll(dst, 0o755))
		if out, err := exec.Command(tarBin, "-xf", tarball, "-C", dst).CombinedOutput(); err != nil {
			b.Fatalf("tar -x: %v: %s", err, out)
		}
	}
	// timed runs f after writing back what earlier runs left dirty, so
	// neither side pays for the other's writeback.
	timed := func(f func(string), dst string) time.Duration {
		b.StopTimer()
		syscall.Sync()
		b.StartTimer()
		start := time.Now()
		f(dst)
		return time.Since(start)
	}
	i := 0
	for b.Loop() {
		i++
		dst, tdst := filepath.Join(work, fmt.Sprintf("restore%d", i)), filepath.Join(work, fmt.Sprintf("tar%d", i))
		// Alternate which goes first.
		if i%2 == 1 {
			restoreT += timed(restore, dst)
			tarT += timed(untar, tdst)
		} else {
			tarT += timed(untar, tdst)
			restoreT += timed(restore, dst)
		}
		b.StopTimer()
		must(b, os.RemoveAll(dst))
		must(b, os.RemoveAll(tdst))
		b.StartTimer()
	}
	n := time.Duration(b.N)
	b.ReportMetric(float64((restoreT / n).Milliseconds()), "restore-ms")
	b.ReportMetric(float64((tarT / n).Milliseconds()), "tar-x-ms")
	b.ReportMetric(float64(tarT)/float64(restoreT), "restore-vs-tar")
}
