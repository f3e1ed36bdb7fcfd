package archive

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestExtractRejectsZipSlip(t *testing.T) {
	tests := []struct {
		name string
		ents []zent
	}{
		{"parent", []zent{{name: "../evil", body: "x"}}},
		{"deep parent", []zent{{name: "a/../../evil", body: "x"}}},
		{"parent after good entry", []zent{{name: "ok", body: "ok"}, {name: "ok/../../evil", body: "x"}}},
		{"absolute", []zent{{name: "/tmp/evil", body: "x"}}},
		{"backslash parent", []zent{{name: `..\evil`, body: "x"}}},
		{"backslash absolute", []zent{{name: `\evil`, body: "x"}}},
		{"drive letter", []zent{{name: "C:/evil", body: "x"}}},
		{"NUL", []zent{{name: "a\x00b", body: "x"}}},
		{"empty name", []zent{{name: "", body: "x"}}},
		{"parent directory entry", []zent{{name: "../d/", mode: fs.ModeDir | 0o755}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "root")
			_, err := extractBytes(t, makeZip(t, tt.ents...), root)
			if !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("err = %v, want ErrUnsafePath", err)
			}
			// Names are checked before anything is written.
			if got := listTree(t, parent); len(got) != 0 {
				t.Fatalf("files written: %q", got)
			}
		})
	}
}

func TestExtractSymlinkSafety(t *testing.T) {
	tests := []struct {
		name string
		ents []zent
		// pre prepares root before extraction; outside is a directory
		// next to root that must stay untouched.
		pre     func(t *testing.T, root, outside string)
		wantErr error
	}{
		{
			name:    "relative link leaving root",
			ents:    []zent{{name: "l", mode: fs.ModeSymlink | 0o777, body: "../outside"}},
			wantErr: ErrUnsafePath,
		},
		{
			name:    "absolute link",
			ents:    []zent{{name: "l", mode: fs.ModeSymlink | 0o777, body: "/etc"}},
			wantErr: ErrUnsafePath,
		},
		{
			name: "link then write through it",
			ents: []zent{
				{name: "l", mode: fs.ModeSymlink | 0o777, body: "../outside"},
				{name: "l/pwned", body: "x"},
			},
			wantErr: ErrUnsafePath,
		},
		{
			name: "chain through a link to dot",
			ents: []zent{
				{name: "d", mode: fs.ModeSymlink | 0o777, body: "."},
				{name: "d/x", mode: fs.ModeSymlink | 0o777, body: "../outside"},
			},
			wantErr: ErrUnsafePath,
		},
		{
			name: "chain through a deeper link",
			ents: []zent{
				{name: "a/b/", mode: fs.ModeDir | 0o755},
				{name: "up", mode: fs.ModeSymlink | 0o777, body: "a/b/../.."},
				{name: "x", mode: fs.ModeSymlink | 0o777, body: "up/../outside"},
			},
			wantErr: ErrUnsafePath,
		},
		{
			name: "pre-existing outside link is not written through",
			ents: []zent{{name: "pre/pwned", body: "x"}},
			pre: func(t *testing.T, root, outside string) {
				must(t, os.MkdirAll(root, 0o755))
				must(t, os.Symlink(outside, filepath.Join(root, "pre")))
			},
			wantErr: errAny,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "root")
			outside := filepath.Join(parent, "outside")
			must(t, os.Mkdir(outside, 0o755))
			if tt.pre != nil {
				tt.pre(t, root, outside)
			}
			_, err := extractBytes(t, makeZip(t, tt.ents...), root)
			if err == nil || (tt.wantErr != errAny && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := listTree(t, outside); len(got) != 0 {
				t.Fatalf("written outside root: %q", got)
			}
		})
	}
}

// errAny marks a case where any error will do.
var errAny = errors.New("any error")

func TestExtractAllowsInsideSymlinks(t *testing.T) {
	root := t.TempDir()
	b := makeZip(t,
		zent{name: "lib/real.so", body: "elf"},
		zent{name: "lib/link.so", mode: fs.ModeSymlink | 0o777, body: "real.so"},
		zent{name: "bin/", mode: fs.ModeDir | 0o755},
		zent{name: "bin/tool", mode: fs.ModeSymlink | 0o777, body: "../lib/real.so"},
		zent{name: "dangling", mode: fs.ModeSymlink | 0o777, body: "later/file"},
		zent{name: "libdir", mode: fs.ModeSymlink | 0o777, body: "lib"},
		zent{name: "libdir/via-link", body: "v"},
	)
	st, err := extractBytes(t, b, root)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 6 {
		t.Errorf("Files = %d, want 6", st.Files)
	}
	got, err := os.ReadFile(filepath.Join(root, "bin", "tool"))
	if err != nil || string(got) != "elf" {
		t.Fatalf("bin/tool = %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(root, "lib", "via-link")); err != nil {
		t.Fatalf("write through inside link: %v", err)
	}
}

func TestExtractOverwrites(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	outsideFile := filepath.Join(parent, "victim")
	must(t, os.WriteFile(outsideFile, []byte("keep"), 0o644))
	writeTree(t, root, map[string]string{"ro": "old", "dir-becomes-file/x": "x"})
	must(t, os.Chmod(filepath.Join(root, "ro"), 0o444))
	// A link at a file's name must be replaced, not written through.
	must(t, os.Symlink(outsideFile, filepath.Join(root, "victim")))
	// Nor a hard link to a file outside the root.
	hardVictim := filepath.Join(parent, "hard-victim")
	must(t, os.WriteFile(hardVictim, []byte("keep"), 0o644))
	must(t, os.Link(hardVictim, filepath.Join(root, "hard")))
	// A plain existing file is rewritten (in place) with the new content.
	writeTree(t, root, map[string]string{"plain": "a much longer old content"})

	_, err := extractBytes(t, makeZip(t,
		zent{name: "ro", body: "new"},
		zent{name: "victim", body: "new"},
		zent{name: "dir-becomes-file", body: "file"},
		zent{name: "hard", body: "new"},
		zent{name: "plain", mode: 0o600, body: "short"},
	), root)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"ro": "new", "victim": "new", "dir-becomes-file": "file", "hard": "new", "plain": "short"} {
		got, err := os.ReadFile(filepath.Join(root, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, p := range []string{outsideFile, hardVictim} {
		if got, _ := os.ReadFile(p); string(got) != "keep" {
			t.Errorf("%s was written through a link: %q", p, got)
		}
	}
	if fi, _ := os.Stat(filepath.Join(root, "plain")); fi.Mode().Perm() != 0o600 {
		t.Errorf("rewritten file mode = %v, want 0600", fi.Mode())
	}
	if fi, _ := os.Lstat(filepath.Join(root, "victim")); !fi.Mode().IsRegular() {
		t.Errorf("victim is %v, want a regular file", fi.Mode())
	}
}

func TestExtractSanitisesModes(t *testing.T) {
	root := t.TempDir()
	_, err := extractBytes(t, makeZip(t,
		zent{name: "suid", mode: fs.ModeSetuid | fs.ModeSetgid | 0o755, body: "x"},
		zent{name: "locked/", mode: fs.ModeDir | fs.ModeSticky | 0o500},
		zent{name: "locked/f", mode: 0o600, body: "x"},
	), root)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want fs.FileMode
	}{
		{"suid", 0o755},
		{"locked", fs.ModeDir | 0o700},
		{"locked/f", 0o600},
	}
	for _, tt := range tests {
		fi, err := os.Lstat(filepath.Join(root, tt.name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != tt.want {
			t.Errorf("%s mode = %v, want %v", tt.name, fi.Mode(), tt.want)
		}
	}
}

func TestExtractInvalidArchive(t *testing.T) {
	_, err := extractBytes(t, []byte("not a zip"), t.TempDir())
	if !errors.Is(err, ErrInvalidArchive) {
		t.Fatalf("err = %v, want ErrInvalidArchive", err)
	}
}

func TestRoundTrip(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"bin/run":         "#!/bin/sh\n",
		"data/a.txt":      "alpha",
		"data/deep/b.txt": "beta",
		"private":         "p",
		"empty/":          "",
	})
	must(t, os.Chmod(filepath.Join(src, "bin/run"), 0o755))
	must(t, os.Chmod(filepath.Join(src, "private"), 0o600))
	must(t, os.Symlink("data/a.txt", filepath.Join(src, "alias")))
	mtime := time.Date(2024, 5, 17, 10, 30, 0, 0, time.UTC)
	for _, p := range []string{"bin/run", "data/a.txt", "data/deep/b.txt", "private", "data/deep", "empty"} {
		must(t, os.Chtimes(filepath.Join(src, p), mtime, mtime))
	}

	b, st := createZip(t, src, Selection{Paths: []string{"."}})
	if st.Files != 5 || st.Bytes != int64(len("#!/bin/sh\nalphabetap")) {
		t.Errorf("create stats = %+v", st)
	}
	dst := filepath.Join(t.TempDir(), "new")
	xst, err := Extract(context.Background(), bytes.NewReader(b), int64(len(b)), dst)
	if err != nil {
		t.Fatal(err)
	}
	if xst.Files != st.Files || xst.Bytes != st.Bytes {
		t.Errorf("extract stats = %+v, create stats = %+v", xst, st)
	}
	if a, b := listTree(t, src), listTree(t, dst); !slices.Equal(a, b) {
		t.Fatalf("trees differ\nsrc %q\ndst %q", a, b)
	}
	for _, p := range listTree(t, src) {
		sfi, err := os.Lstat(filepath.Join(src, p))
		must(t, err)
		dfi, err := os.Lstat(filepath.Join(dst, p))
		must(t, err)
		if sfi.Mode() != dfi.Mode() {
			t.Errorf("%s mode %v -> %v", p, sfi.Mode(), dfi.Mode())
		}
		switch {
		case sfi.Mode()&fs.ModeSymlink != 0:
			st, _ := os.Readlink(filepath.Join(src, p))
			dt, _ := os.Readlink(filepath.Join(dst, p))
			if st != dt {
				t.Errorf("%s link %q -> %q", p, st, dt)
			}
		case sfi.Mode().IsRegular():
			sb, _ := os.ReadFile(filepath.Join(src, p))
			db, _ := os.ReadFile(filepath.Join(dst, p))
			if !bytes.Equal(sb, db) {
				t.Errorf("%s content differs", p)
			}
			fallthrough
		default:
			if !sfi.ModTime().Truncate(time.Second).Equal(dfi.ModTime()) {
				t.Errorf("%s mtime %v -> %v", p, sfi.ModTime(), dfi.ModTime())
			}
		}
	}
}

func TestExtractReplacesDirectoryWithLink(t *testing.T) {
	root := t.TempDir()
	_, err := extractBytes(t, makeZip(t,
		zent{name: "b/", mode: fs.ModeDir | 0o755},
		zent{name: "a/x", body: "x"},
		zent{name: "a", mode: fs.ModeSymlink | 0o777, body: "b"},
		zent{name: "a/y", body: "y"},
	), root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "b/", "b/y"}
	if got := listTree(t, root); !slices.Equal(got, want) {
		t.Fatalf("tree = %q, want %q", got, want)
	}
}

func TestExtractCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := makeZip(t, zent{name: "f", body: "x"})
	if _, err := Extract(ctx, bytes.NewReader(b), int64(len(b)), t.TempDir()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
