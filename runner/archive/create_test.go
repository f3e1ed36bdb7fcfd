package archive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var patternTree = map[string]string{
	"vendor/a.go":        "a",
	"vendor/sub/b.go":    "b",
	"vendor/x.log":       "log",
	"src/x.o":            "o1",
	"src/deep/y.o":       "o2",
	"src/deep/debug.log": "log",
	"src/main.c":         "c",
	"bin/tool":           "tool",
	"bin/sub/z":          "z",
	"app.log":            "log",
	"empty/":             "",
}

func TestCreatePatterns(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, patternTree)
	tests := []struct {
		name     string
		sel      Selection
		want     []string
		warnings int
	}{
		{
			name: "directory with trailing slash is recursive",
			sel:  Selection{Paths: []string{"vendor/"}},
			want: []string{"vendor/", "vendor/a.go", "vendor/sub/", "vendor/sub/b.go", "vendor/x.log"},
		},
		{
			name: "doublestar suffix at any depth",
			sel:  Selection{Paths: []string{"**/*.o"}},
			want: []string{"src/deep/y.o", "src/x.o"},
		},
		{
			name: "single star children, directories recursive",
			sel:  Selection{Paths: []string{"bin/*"}},
			want: []string{"bin/sub/", "bin/sub/z", "bin/tool"},
		},
		{
			name: "exclude doublestar logs",
			sel:  Selection{Paths: []string{"vendor", "src"}, Exclude: []string{"**/*.log"}},
			want: []string{"src/", "src/deep/", "src/deep/y.o", "src/main.c", "src/x.o", "vendor/", "vendor/a.go", "vendor/sub/", "vendor/sub/b.go"},
		},
		{
			name: "exclude a directory drops its subtree",
			sel:  Selection{Paths: []string{"vendor"}, Exclude: []string{"vendor/sub/"}},
			want: []string{"vendor/", "vendor/a.go", "vendor/x.log"},
		},
		{
			name: "dot-slash prefix and literal file",
			sel:  Selection{Paths: []string{"./src/main.c", "app.log"}},
			want: []string{"app.log", "src/main.c"},
		},
		{
			name: "overlapping patterns are stored once",
			sel:  Selection{Paths: []string{"src", "src/**/*.o", "src/x.o"}},
			want: []string{"src/", "src/deep/", "src/deep/debug.log", "src/deep/y.o", "src/main.c", "src/x.o"},
		},
		{
			name: "brace alternatives",
			sel:  Selection{Paths: []string{"{bin,vendor}/*.{go,log}"}},
			want: []string{"vendor/a.go", "vendor/x.log"},
		},
		{
			name:     "no match is only a warning",
			sel:      Selection{Paths: []string{"nothing/*", "missing", "bin/tool"}},
			want:     []string{"bin/tool"},
			warnings: 2,
		},
		{
			name: "empty directory",
			sel:  Selection{Paths: []string{"empty"}},
			want: []string{"empty/"},
		},
		{
			name: "whole root",
			sel:  Selection{Paths: []string{"."}, Exclude: []string{"src", "vendor", "bin"}},
			want: []string{"app.log", "empty/"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, st := createZip(t, root, tt.sel)
			got := zipNames(t, b)
			if !slices.Equal(got, tt.want) {
				t.Errorf("entries\n got %q\nwant %q", got, tt.want)
			}
			if len(st.Warnings) != tt.warnings {
				t.Errorf("warnings = %q, want %d", st.Warnings, tt.warnings)
			}
			files := 0
			for _, n := range tt.want {
				if !strings.HasSuffix(n, "/") {
					files++
				}
			}
			if st.Files != files {
				t.Errorf("Files = %d, want %d", st.Files, files)
			}
		})
	}
}

func TestCreateRejectsBadPatterns(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, patternTree)
	tests := []struct {
		name string
		sel  Selection
		want error
	}{
		{"parent", Selection{Paths: []string{"../x"}}, ErrUnsafePath},
		{"parent inside", Selection{Paths: []string{"a/../../b"}}, ErrUnsafePath},
		{"parent that cleans away", Selection{Paths: []string{"a/../b"}}, ErrUnsafePath},
		{"trailing parent", Selection{Paths: []string{"src/.."}}, ErrUnsafePath},
		{"absolute", Selection{Paths: []string{"/etc/passwd"}}, ErrUnsafePath},
		{"NUL", Selection{Paths: []string{"a\x00b"}}, ErrUnsafePath},
		{"exclude parent", Selection{Paths: []string{"src"}, Exclude: []string{"../src"}}, ErrUnsafePath},
		{"empty", Selection{Paths: []string{""}}, ErrInvalidPattern},
		{"malformed", Selection{Paths: []string{"src/[a"}}, ErrInvalidPattern},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := Create(context.Background(), &buf, root, tt.sel)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCreateSymlinksAreNotFollowed(t *testing.T) {
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret": "s3cret"})
	root := t.TempDir()
	writeTree(t, root, map[string]string{"dir/file": "f"})
	must(t, os.Symlink(outside, filepath.Join(root, "out")))
	must(t, os.Symlink("../../"+filepath.Base(outside), filepath.Join(root, "dir", "rel")))
	must(t, os.Symlink("file", filepath.Join(root, "dir", "in")))

	tests := []struct {
		name string
		sel  Selection
		want []string
	}{
		{"literal link is stored as link", Selection{Paths: []string{"out"}}, []string{"out"}},
		{"doublestar does not descend into links", Selection{Paths: []string{"**"}}, []string{"dir/", "dir/file", "dir/in", "dir/rel", "out"}},
		{"glob below an outside link finds nothing", Selection{Paths: []string{"out/*"}}, nil},
		{"literal below an outside link finds nothing", Selection{Paths: []string{"out/secret"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := createZip(t, root, tt.sel)
			if got := zipNames(t, b); !slices.Equal(got, tt.want) {
				t.Errorf("entries\n got %q\nwant %q", got, tt.want)
			}
			if bytes.Contains(b, []byte("s3cret")) {
				t.Error("archive contains a file from outside the root")
			}
		})
	}
}

func TestCreateDeterministic(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, patternTree)
	sel := Selection{Paths: []string{"**/*.o", "vendor", "bin/*"}}
	a, _ := createZip(t, root, sel)
	b, _ := createZip(t, root, sel)
	if !bytes.Equal(a, b) {
		t.Fatal("two archives of the same tree differ")
	}
}

func TestCreateUntracked(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed (Debian package git; tests/engine.sh installs it): %v", err)
	}
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		".gitignore":      "*.tmp\nignored/\n",
		"tracked.txt":     "t",
		"new.txt":         "n",
		"sub/new.go":      "g",
		"scratch.tmp":     "x",
		"ignored/big.bin": "x",
		"build/out.o":     "o",
	})
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main"}, args...)...)
		cmd.Dir = root
		cmd.Env = gitEnv(os.Environ())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".gitignore", "tracked.txt")
	git("commit", "-q", "-m", "init")

	tests := []struct {
		name string
		sel  Selection
		want []string
	}{
		{"untracked only", Selection{Untracked: true}, []string{"build/out.o", "new.txt", "sub/new.go"}},
		{"untracked with exclude", Selection{Untracked: true, Exclude: []string{"sub"}}, []string{"build/out.o", "new.txt"}},
		{"untracked plus paths", Selection{Untracked: true, Paths: []string{"tracked.txt"}}, []string{"build/out.o", "new.txt", "sub/new.go", "tracked.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, st := createZip(t, root, tt.sel)
			if got := zipNames(t, b); !slices.Equal(got, tt.want) {
				t.Errorf("entries\n got %q\nwant %q", got, tt.want)
			}
			if len(st.Warnings) != 0 {
				t.Errorf("warnings: %q", st.Warnings)
			}
		})
	}

	t.Run("not a work tree warns", func(t *testing.T) {
		plain := t.TempDir()
		writeTree(t, plain, map[string]string{"a": "a"})
		b, st := createZip(t, plain, Selection{Untracked: true})
		if got := zipNames(t, b); len(got) != 0 {
			t.Errorf("entries = %q, want none", got)
		}
		if len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], "untracked") {
			t.Errorf("warnings = %q", st.Warnings)
		}
	})
}

func TestCreateCancelled(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, patternTree)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var buf bytes.Buffer
	if _, err := Create(ctx, &buf, root, Selection{Paths: []string{"**"}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
