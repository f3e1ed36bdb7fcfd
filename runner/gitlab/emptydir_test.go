package gitlab

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestEmptyDir(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, dir string)
		create bool
		// wantDir: dir exists afterwards, empty.
		wantDir bool
		sameDir bool
	}{
		{"missing, created", func(*testing.T, string) {}, true, true, false},
		{"missing, left", func(*testing.T, string) {}, false, false, false},
		{"full, kept and emptied", func(t *testing.T, dir string) {
			mkdir(t, dir)
			mkdir(t, filepath.Join(dir, "sub", "deeper"))
			write(t, filepath.Join(dir, "sub", "deeper", "f"))
			write(t, filepath.Join(dir, ".hidden"))
		}, false, true, true},
		{"a link at the path is removed, not followed", func(t *testing.T, dir string) {
			target := filepath.Join(filepath.Dir(dir), "target")
			mkdir(t, target)
			write(t, filepath.Join(target, "keep"))
			if err := os.Symlink(target, dir); err != nil {
				t.Fatal(err)
			}
		}, true, true, false},
		{"a job's owner and mode are undone", func(t *testing.T, dir string) {
			mkdir(t, dir)
			if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, false, true, true},
		{"links inside are removed, not followed", func(t *testing.T, dir string) {
			mkdir(t, dir)
			target := filepath.Join(filepath.Dir(dir), "target")
			mkdir(t, target)
			write(t, filepath.Join(target, "keep"))
			if err := os.Symlink(target, filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
		}, false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			tc.setup(t, dir)
			before, _ := statID(dir)
			if err := emptyDir(dir, tc.create); err != nil {
				t.Fatalf("emptyDir: %v", err)
			}
			entries, err := os.ReadDir(dir)
			if tc.wantDir && (err != nil || len(entries) != 0) {
				t.Fatalf("after emptyDir: %v entries, err %v; want an empty directory", len(entries), err)
			}
			if !tc.wantDir && !os.IsNotExist(err) {
				t.Fatalf("after emptyDir: err %v; want no directory", err)
			}
			if after, _ := statID(dir); tc.sameDir && after != before {
				t.Error("emptyDir replaced the directory; want the same one")
			}
			if fi, err := os.Stat(dir); err == nil {
				st := fi.Sys().(*syscall.Stat_t)
				if fi.Mode() != os.ModeDir|0o755 || int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() {
					t.Errorf("after emptyDir: mode %v, owner %d:%d; want drwxr-xr-x, the agent's", fi.Mode(), st.Uid, st.Gid)
				}
			}
			// A link's target keeps its file.
			target := filepath.Join(filepath.Dir(dir), "target")
			if _, err := os.Stat(target); err == nil && fileMissing(filepath.Join(target, "keep")) {
				t.Error("emptyDir followed a link: the target's file is gone")
			}
		})
	}
}

func TestWriteNewRefusesLink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	write(t, target)
	link := filepath.Join(dir, "var")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := writeNew(link, []byte("secret")); err == nil {
		t.Fatal("writeNew through a planted link succeeded")
	}
	if b, _ := os.ReadFile(target); string(b) != "x" {
		t.Errorf("the link's target now holds %q", b)
	}
	if err := writeNew(filepath.Join(dir, "new"), []byte("v")); err != nil {
		t.Fatalf("writeNew of a new file: %v", err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, f string) {
	t.Helper()
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileMissing(f string) bool {
	_, err := os.Stat(f)
	return err != nil
}
