package archive

import (
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

func TestH3Link(t *testing.T) {
	if os.Getenv("H3LINK") == "" {
		t.Skip()
	}
	work := t.TempDir()
	src := filepath.Join(work, "src")
	rng := rand.New(rand.NewPCG(7, 11))
	var sb strings.Builder
	for i := range 20000 {
		sb.Reset()
		for sb.Len() < 10<<10 {
			fmt.Fprintf(&sb, "export function f%d_%d(a, b) { return a * %d + b - %d; }\n", i, sb.Len(), rng.IntN(1e6), rng.IntN(1e3))
		}
		p := filepath.Join(src, fmt.Sprintf("node_modules/pkg%03d/lib/file%05d.js", i%400, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(sb.String()), 0o644)
	}
	blob := make([]byte, 1<<20)
	for i := range 300 {
		for j := range blob {
			blob[j] = byte(rng.Uint32())
		}
		p := filepath.Join(src, fmt.Sprintf("vendor/blobs/blob%03d.bin", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, blob, 0o644)
	}
	tarball := filepath.Join(work, "same.tar")
	exec.Command("tar", "-cf", tarball, "-C", src, "node_modules", "vendor").Run()
	tot := map[string]time.Duration{}
	run := func(k string, args ...string) {
		syscall.Sync()
		s := time.Now()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
		tot[k] += time.Since(s)
	}
	for i := range 3 {
		d1, d2, d3 := filepath.Join(work, fmt.Sprint("t", i)), filepath.Join(work, fmt.Sprint("l", i)), filepath.Join(work, fmt.Sprint("r", i))
		os.MkdirAll(d1, 0o755)
		run("tar-x", "tar", "-xf", tarball, "-C", d1)
		run("cp-al", "cp", "-al", src, d2)
		run("cp-reflink-auto", "cp", "-a", "--reflink=auto", src, d3)
		os.RemoveAll(d1)
		os.RemoveAll(d2)
		os.RemoveAll(d3)
	}
	for k, v := range tot {
		t.Logf("%s: %v", k, v/3)
	}
}
