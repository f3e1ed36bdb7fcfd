package helperimage

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ErrNoGit is returned when the host has no git to build the image from.
var ErrNoGit = errors.New("helperimage: git not found on the host: install git (apt-get install git)")

// Host says which of the host's programs go into the image; the zero
// value finds them: git on PATH, /bin/busybox when present.
type Host struct {
	Git string // the git binary (default: git on PATH)
	// Busybox is the busybox binary giving the shell and tools (default
	// /bin/busybox when it exists); "-" takes the host's own sh and
	// tools with their libraries instead.
	Busybox string
}

// tools are the programs the sources helper's script runs besides git
// (runner/gitlab's helperScript): the shell and four utilities.
func tools() []string { return []string{"sh", "find", "rm", "mkdir", "head"} }

// entry is one file of the root filesystem.
type entry struct {
	mode int64
	dir  bool
	src  string // host file whose contents it gets
	link string // symlink target
	data string // contents written as is
}

// Rootfs is the helper image's root filesystem, collected from the host.
type Rootfs struct {
	// GitVersion is the host git's version ("2.39.5").
	GitVersion string
	files      map[string]entry // by path without the leading slash
}

// Collect gathers the root filesystem from the host.
func Collect(ctx context.Context, h Host) (*Rootfs, error) {
	git := h.Git
	if git == "" {
		p, err := exec.LookPath("git")
		if err != nil {
			return nil, ErrNoGit
		}
		git = p
	}
	git, err := filepath.EvalSymlinks(git)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoGit, err)
	}
	out, err := exec.CommandContext(ctx, git, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("helperimage: %s --version: %w", git, err)
	}
	r := &Rootfs{GitVersion: strings.TrimPrefix(strings.TrimSpace(string(out)), "git version "), files: map[string]entry{}}
	for _, d := range []string{"bin", "usr/bin", "etc", "root", "runfleet/store", "usr/share/git-core/templates"} {
		r.dir(d, 0o755)
	}
	r.dir("tmp", 0o1777)
	r.files["etc/passwd"] = entry{mode: 0o644, data: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"}
	r.files["etc/group"] = entry{mode: 0o644, data: "root:x:0:\nnogroup:x:65534:\n"}
	if err := r.binary(ctx, "usr/bin/git", git); err != nil {
		return nil, err
	}
	// Local fetches run upload-pack: git itself under another name.
	r.files["usr/bin/git-upload-pack"] = entry{mode: 0o777, link: "git"}
	r.files["usr/bin/git-receive-pack"] = entry{mode: 0o777, link: "git"}
	if err := r.shell(ctx, h.Busybox); err != nil {
		return nil, err
	}
	return r, nil
}

// shell adds the shell and the tools: busybox with its applets, or the
// host's own programs.
func (r *Rootfs) shell(ctx context.Context, busybox string) error {
	if busybox == "" {
		if _, err := os.Stat("/bin/busybox"); err == nil {
			busybox = "/bin/busybox"
		}
	}
	if busybox != "" && busybox != "-" {
		if err := r.binary(ctx, "bin/busybox", busybox); err != nil {
			return err
		}
		out, err := exec.CommandContext(ctx, busybox, "--list").Output()
		if err != nil {
			return fmt.Errorf("helperimage: %s --list: %w", busybox, err)
		}
		for _, applet := range strings.Fields(string(out)) {
			if applet != "busybox" && !strings.Contains(applet, "/") {
				r.files["bin/"+applet] = entry{mode: 0o777, link: "busybox"}
			}
		}
		return nil
	}
	for _, t := range tools() {
		p, err := exec.LookPath(t)
		if err != nil {
			return fmt.Errorf("helperimage: the helper needs %s: %w", t, err)
		}
		if err := r.binary(ctx, "bin/"+t, p); err != nil {
			return err
		}
	}
	return nil
}

// binary adds the host's program src at name, with the dynamic loader
// and the libraries it links at their own paths.
func (r *Rootfs) binary(ctx context.Context, name, src string) error {
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return fmt.Errorf("helperimage: %w", err)
	}
	r.file(name, real)
	libs, err := sharedLibs(ctx, real)
	if err != nil {
		return err
	}
	for _, lib := range libs {
		r.file(strings.TrimPrefix(path.Clean(lib), "/"), lib)
	}
	return nil
}

// file adds the host file src at name, with its parent directories.
func (r *Rootfs) file(name, src string) {
	r.dir(path.Dir(name), 0o755)
	r.files[name] = entry{mode: 0o755, src: src}
}

// dir adds a directory and its parents.
func (r *Rootfs) dir(name string, mode int64) {
	for d := name; d != "." && d != "/" && d != ""; d = path.Dir(d) {
		if _, ok := r.files[d]; !ok {
			r.files[d] = entry{mode: mode, dir: true}
		}
		mode = 0o755
	}
}

// Names returns the paths of the root filesystem, sorted.
func (r *Rootfs) Names() []string {
	names := make([]string, 0, len(r.files))
	for n := range r.files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// WriteTar writes the root filesystem as a tar stream, parents before
// children, owned by root, with a fixed time: the same host gives the
// same bytes.
func (r *Rootfs) WriteTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	for _, name := range r.Names() {
		e := r.files[name]
		hdr := &tar.Header{Name: name, Mode: e.mode, ModTime: epoch}
		var err error
		switch {
		case e.dir:
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
			err = tw.WriteHeader(hdr)
		case e.link != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.link
			err = tw.WriteHeader(hdr)
		case e.src != "":
			err = writeHostFile(tw, hdr, e.src)
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(e.data))
			if err = tw.WriteHeader(hdr); err == nil {
				_, err = io.WriteString(tw, e.data)
			}
		}
		if err != nil {
			return fmt.Errorf("helperimage: write %s: %w", name, err)
		}
	}
	return tw.Close()
}

// writeHostFile writes the host file src under hdr's name.
func writeHostFile(tw *tar.Writer, hdr *tar.Header, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.CopyN(tw, f, hdr.Size)
	return err
}
