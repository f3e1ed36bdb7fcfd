package archive_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
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
			s := time.Now()
			if _, err := mk[k](ctx, bw); err != nil {
				t.Fatal(err)
			}
			bw.Flush()
			tot[k] += time.Since(s)
			st, _ := f.Stat()
			size[k] = st.Size()
			f.Close()
		}
	}
	for _, k := range []string{"old", "new"} {
		t.Logf("%s create: %v avg, archive %d bytes", k, tot[k]/4, size[k])
	}
	t.Logf("new/old speedup: %.2fx", float64(tot["old"])/float64(tot["new"]))
}
