package archive

import (
	"bufio"
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
)

func TestH3Compare(t *testing.T) {
	if os.Getenv("H3") == "" {
		t.Skip()
	}
	ctx := context.Background()
	work := t.TempDir()
	src := filepath.Join(work, "src")
	rng := rand.New(rand.NewPCG(7, 11))
	var sb strings.Builder
	for i := range 8000 {
		sb.Reset()
		for sb.Len() < 10<<10 {
			fmt.Fprintf(&sb, "export function f%d_%d(a, b) { return a * %d + b - %d; }\n", i, sb.Len(), rng.IntN(1e6), rng.IntN(1e3))
		}
		p := filepath.Join(src, fmt.Sprintf("node_modules/pkg%03d/lib/file%05d.js", i%400, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(sb.String()), 0o644)
	}
	blob := make([]byte, 1<<20)
	for i := range 120 {
		for j := range blob {
			blob[j] = byte(rng.Uint32())
		}
		p := filepath.Join(src, fmt.Sprintf("vendor/blobs/blob%03d.bin", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, blob, 0o644)
	}
	zp := filepath.Join(work, "c.zip")
	zf, _ := os.Create(zp)
	bw := bufio.NewWriterSize(zf, 1<<20)
	start := time.Now()
	if _, err := Create(ctx, bw, src, Selection{Paths: []string{"node_modules/", "vendor/"}}); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	t.Logf("create: %v", time.Since(start))
	st, _ := zf.Stat()
	t.Logf("zip size %d", st.Size())
	tarball := filepath.Join(work, "same.tar")
	exec.Command("tar", "-cf", tarball, "-C", src, "node_modules", "vendor").Run()
	ws := []int{1, 2, 4}
	tot := map[string]time.Duration{}
	n := 0
	for it := range 2 {
		for _, w := range ws {
			dst := filepath.Join(work, fmt.Sprintf("d%d", n))
			n++
			syscall.Sync()
			var r0, r1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
			s := time.Now()
			if _, err := extract(ctx, zf, st.Size(), dst, w); err != nil {
				t.Fatal(err)
			}
			tot[fmt.Sprint("w", w)] += time.Since(s)
			syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
			t.Logf("w%d wall %v user %v sys %v", w, time.Since(s), time.Duration(r1.Utime.Nano()-r0.Utime.Nano()), time.Duration(r1.Stime.Nano()-r0.Stime.Nano()))
			os.RemoveAll(dst)
		}
		dst := filepath.Join(work, fmt.Sprintf("d%d", n))
		n++
		os.MkdirAll(dst, 0o755)
		syscall.Sync()
		s := time.Now()
		exec.Command("tar", "-xf", tarball, "-C", dst).Run()
		tot["tar"] += time.Since(s)
		os.RemoveAll(dst)
		_ = it
	}
	for k, v := range tot {
		t.Logf("%s: %v", k, v/2)
	}
}
