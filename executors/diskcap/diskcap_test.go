package diskcap

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMountCapsWrites(t *testing.T) {
	for _, kind := range []Kind{Loop, Tmpfs} {
		t.Run(string(kind), func(t *testing.T) {
			base := t.TempDir()
			dir, image := filepath.Join(base, "vol"), filepath.Join(base, "vol.img")
			c, err := Mount(t.Context(), dir, 8<<20, kind, image)
			if err != nil {
				t.Fatalf("Mount: %v", err)
			}
			t.Cleanup(func() { _ = c.Close() })
			var st unix.Statfs_t
			if err := unix.Statfs(dir, &st); err != nil {
				t.Fatal(err)
			}
			if total := int64(st.Blocks) * st.Bsize; total > 8<<20 || total < 6<<20 {
				t.Errorf("filesystem size %d, want about 8 MiB", total)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("fresh cap is not empty: %v", entries)
			}
			f, err := os.Create(filepath.Join(dir, "big"))
			if err != nil {
				t.Fatal(err)
			}
			chunk := make([]byte, 1<<20)
			var werr error
			written := 0
			for range 16 {
				var n int
				n, werr = f.Write(chunk)
				written += n
				if werr != nil {
					break
				}
			}
			if werr == nil {
				werr = f.Sync()
			}
			f.Close()
			if !errors.Is(werr, syscall.ENOSPC) {
				t.Fatalf("writing 16 MiB into an 8 MiB cap: %v after %d bytes, want ENOSPC", werr, written)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			mounts, _ := os.ReadFile("/proc/self/mountinfo")
			if strings.Contains(string(mounts), " "+dir+" ") {
				t.Errorf("%s still mounted", dir)
			}
			if _, err := os.Stat(image); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("image left: %v", err)
			}
		})
	}
}

func TestMountRejects(t *testing.T) {
	if _, err := Mount(t.Context(), t.TempDir(), 0, Tmpfs, ""); err == nil {
		t.Error("zero size accepted")
	}
	if _, err := Mount(t.Context(), t.TempDir(), 1<<20, Loop, ""); err == nil {
		t.Error("loop without an image accepted")
	}
	if _, err := Mount(t.Context(), t.TempDir(), 1<<20, "zfs", ""); err == nil {
		t.Error("unknown kind accepted")
	}
}

// BenchmarkMount measures what a per-job cap costs to set up and tear
// down, for choosing the kind: a 10 GiB sparse ext4 loop image against a
// tmpfs.
func BenchmarkMount(b *testing.B) {
	for _, kind := range []Kind{Loop, Tmpfs} {
		b.Run(string(kind), func(b *testing.B) {
			base := b.TempDir()
			for b.Loop() {
				c, err := Mount(b.Context(), filepath.Join(base, "vol"), 10<<30, kind, filepath.Join(base, "vol.img"))
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
