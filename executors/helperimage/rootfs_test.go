package helperimage

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCollect builds the root filesystem from this host both ways (with
// busybox, with the host's own shell and tools) and checks the tar holds
// git, its upload-pack links, its loader and libraries, the shell and the
// tools the helper's script runs, the store and the template directory.
func TestCollect(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("this test builds from the host's git: install git: %v", err)
	}
	real, err := filepath.EvalSymlinks(git)
	if err != nil {
		t.Fatal(err)
	}
	gitLibs, err := sharedLibs(t.Context(), real)
	if err != nil {
		t.Fatal(err)
	}
	if len(gitLibs) == 0 {
		t.Fatalf("ldd %s lists no library: the test expects a dynamically linked git", real)
	}
	for _, tt := range []struct {
		name    string
		busybox string
		want    map[string]byte // path -> tar type
	}{
		{name: "busybox", busybox: "/bin/busybox", want: map[string]byte{
			"bin/busybox": tar.TypeReg, "bin/sh": tar.TypeSymlink, "bin/find": tar.TypeSymlink, "bin/head": tar.TypeSymlink,
		}},
		{name: "host tools", busybox: "-", want: map[string]byte{
			"bin/sh": tar.TypeReg, "bin/find": tar.TypeReg, "bin/rm": tar.TypeReg, "bin/mkdir": tar.TypeReg, "bin/head": tar.TypeReg,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rf, err := Collect(t.Context(), Host{Busybox: tt.busybox})
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if rf.GitVersion == "" || rf.GitVersion[0] < '0' || rf.GitVersion[0] > '9' {
				t.Fatalf("GitVersion = %q, want a version number", rf.GitVersion)
			}
			var buf bytes.Buffer
			if err := rf.WriteTar(&buf); err != nil {
				t.Fatalf("WriteTar: %v", err)
			}
			got := map[string]*tar.Header{}
			tr := tar.NewReader(&buf)
			for {
				h, err := tr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("read the tar: %v", err)
				}
				got[filepath.Clean(h.Name)] = h
			}
			want := map[string]byte{
				"usr/bin/git": tar.TypeReg, "usr/bin/git-upload-pack": tar.TypeSymlink, "usr/bin/git-receive-pack": tar.TypeSymlink,
				"runfleet/store": tar.TypeDir, "usr/share/git-core/templates": tar.TypeDir, "tmp": tar.TypeDir, "etc/passwd": tar.TypeReg,
			}
			for _, lib := range gitLibs {
				want[filepath.Clean(lib)[1:]] = tar.TypeReg
			}
			for k, v := range tt.want {
				want[k] = v
			}
			for name, typ := range want {
				h, ok := got[name]
				if !ok {
					t.Errorf("%s missing from the root filesystem", name)
					continue
				}
				if h.Typeflag != typ {
					t.Errorf("%s: type %c, want %c", name, h.Typeflag, typ)
				}
			}
			if h := got["tmp"]; h != nil && h.Mode != 0o1777 {
				t.Errorf("tmp: mode %o, want 1777", h.Mode)
			}
			if h := got["usr/bin/git-upload-pack"]; h != nil && h.Linkname != "git" {
				t.Errorf("git-upload-pack links to %q, want git", h.Linkname)
			}
		})
	}
}

// TestCollectNoGit: a host without git gets ErrNoGit, which says to
// install it.
func TestCollectNoGit(t *testing.T) {
	_, err := Collect(t.Context(), Host{Git: filepath.Join(t.TempDir(), "git")})
	if !errors.Is(err, ErrNoGit) {
		t.Fatalf("err = %v, want ErrNoGit", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("install git")) {
		t.Fatalf("err = %v, want it to say install git", err)
	}
}

// TestWriteTarDeterministic: the same host gives the same bytes.
func TestWriteTarDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	for _, buf := range []*bytes.Buffer{&a, &b} {
		rf, err := Collect(t.Context(), Host{})
		if err != nil {
			t.Fatalf("Collect: %v", err)
		}
		if err := rf.WriteTar(buf); err != nil {
			t.Fatalf("WriteTar: %v", err)
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("two builds differ (%d and %d bytes)", a.Len(), b.Len())
	}
}
