package archive_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	newarchive "github.com/runfleet/runfleet/runner/archive"
	oldarchive "github.com/runfleet/runfleet/runner/archive/zzh3old"
)

func TestH3CreateAB(t *testing.T) {
	if os.Getenv("H3AB") == "" {
		t.Skip()
	}
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
	ctx := context.Background()
	type creator func(ctx context.Context, w io.Writer) (int64, error)
	mk := map[string]creator{
		"old": func(ctx context.Context, w io.Writer) (int64, error) {
			st, err := oldarchive.Create(ctx, w, src, oldarchive.Selection{Paths: []string{"node_modules/", "vendor/"}})
			return st.Bytes, err
		},
		"new": func(ctx context.Context, w io.Writer) (int64, error) {
			st, err := newarchive.Create(ctx, w, src, newarchive.Selection{Paths: []string{"node_modules/", "vendor/"}})
			return st.Bytes, err
		},
	}
	tot := map[string]time.Duration{}
	size := map[string]int64{}
	cpu := map[string]time.Duration{}
	order := []string{"old", "new"}
	for i := range 4 {
		if i%2 == 1 {
			order = []string{"new", "old"}
		} else {
			order = []string{"old", "new"}
		}
		for _, k := range order {
			zp := filepath.Join(work, k+".zip")
			f, _ := os.Create(zp)
			bw := bufio.NewWriterSize(f, 1<<20)
			syscall.Sync()
			var r0, r1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
			s := time.Now()
			if _, err := mk[k](ctx, bw); err != nil {
				t.Fatal(err)
			}
			bw.Flush()
			tot[k] += time.Since(s)
			syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
			cpu[k] += time.Duration(r1.Utime.Nano() - r0.Utime.Nano() + r1.Stime.Nano() - r0.Stime.Nano())
			st, _ := f.Stat()
			size[k] = st.Size()
			f.Close()
		}
	}
	for _, k := range []string{"old", "new"} {
		t.Logf("%s create: %v avg wall, %v cpu, archive %d bytes", k, tot[k]/4, cpu[k]/4, size[k])
	}
	t.Logf("new/old speedup: %.2fx", float64(tot["old"])/float64(tot["new"]))
}

func TestH3ExtractAB(t *testing.T) {
	if os.Getenv("H3AB") == "" {
		t.Skip()
	}
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
	ctx := context.Background()
	mkzip := func(name string, create func(io.Writer) error) (*os.File, int64) {
		f, _ := os.Create(filepath.Join(work, name))
		bw := bufio.NewWriterSize(f, 1<<20)
		if err := create(bw); err != nil {
			t.Fatal(err)
		}
		bw.Flush()
		st, _ := f.Stat()
		return f, st.Size()
	}
	oldZip, oldSize := mkzip("old.zip", func(w io.Writer) error {
		_, err := oldarchive.Create(ctx, w, src, oldarchive.Selection{Paths: []string{"node_modules/", "vendor/"}})
		return err
	})
	newZip, newSize := mkzip("new.zip", func(w io.Writer) error {
		_, err := newarchive.Create(ctx, w, src, newarchive.Selection{Paths: []string{"node_modules/", "vendor/"}})
		return err
	})
	tarball := filepath.Join(work, "same.tar")
	if out, err := exec.Command("tar", "-cf", tarball, "-C", src, "node_modules", "vendor").CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	kinds := map[string]func(dst string) error{
		"old-extract(old-zip)": func(dst string) error { _, err := oldarchive.Extract(ctx, oldZip, oldSize, dst); return err },
		"new-extract(old-zip)": func(dst string) error { _, err := newarchive.Extract(ctx, oldZip, oldSize, dst); return err },
		"new-extract(new-zip)": func(dst string) error { _, err := newarchive.Extract(ctx, newZip, newSize, dst); return err },
		"tar-x": func(dst string) error {
			os.MkdirAll(dst, 0o755)
			return exec.Command("tar", "-xf", tarball, "-C", dst).Run()
		},
	}
	order := []string{"old-extract(old-zip)", "new-extract(old-zip)", "new-extract(new-zip)", "tar-x"}
	tot := map[string]time.Duration{}
	cpu := map[string]time.Duration{}
	const rounds = 4
	n := 0
	for i := range rounds {
		for j := range order {
			k := order[(i+j)%len(order)]
			dst := filepath.Join(work, fmt.Sprint("d", n))
			n++
			syscall.Sync()
			var r0, r1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
			s := time.Now()
			if err := kinds[k](dst); err != nil {
				t.Fatal(k, err)
			}
			tot[k] += time.Since(s)
			syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
			cpu[k] += time.Duration(r1.Utime.Nano() - r0.Utime.Nano() + r1.Stime.Nano() - r0.Stime.Nano())
			os.RemoveAll(dst)
		}
	}
	for _, k := range order {
		t.Logf("%-22s %v avg wall, %v in-process cpu; tar/this %.2f", k, tot[k]/rounds, cpu[k]/rounds, float64(tot["tar-x"])/float64(tot[k]))
	}
}
