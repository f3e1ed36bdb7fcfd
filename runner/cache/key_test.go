package cache

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitizeKey(t *testing.T) {
	long := strings.Repeat("k", 300)
	tests := []struct {
		name    string
		key     string
		want    string // "" when only the safety properties are checked
		wantErr bool
	}{
		{name: "plain", key: "deps-main-protected", want: "deps-main-protected"},
		{name: "unicode kept", key: "zweig-ü-日本", want: "zweig-ü-日本"},
		{name: "percent kept", key: "100%", want: "100%"},
		{name: "slash encoded", key: "build/main", want: "build%2Fmain"},
		{name: "leading and trailing slash", key: "/abs/", want: "%2Fabs%2F"},
		{name: "absolute path", key: "/etc/passwd", want: "%2Fetc%2Fpasswd"},
		{name: "parent", key: "..", want: "%2E%2E"},
		{name: "dot", key: ".", want: "%2E"},
		{name: "parent segments", key: "../../etc", want: "..%2F..%2Fetc"},
		{name: "backslash", key: `..\..\windows`, want: `..%5C..%5Cwindows`},
		{name: "NUL", key: "a\x00b", want: "a%00b"},
		{name: "newline and escape", key: "a\nb\x1b[31m", want: "a%0Ab%1B[31m"},
		{name: "DEL", key: "a\x7f", want: "a%7F"},
		{name: "C1 control", key: "a\u0085", want: "a%C2%85"},
		{name: "invalid UTF-8", key: "a\xffb", want: "a%FFb"},
		{name: "dots are a fine name", key: "...", want: "..."},
		{name: "dot-dot prefix", key: "..a", want: "..a"},
		{name: "long segment shortened", key: long},
		{name: "long multibyte shortened", key: strings.Repeat("é", 200)},
		{name: "long after encoding", key: strings.Repeat("/", 200)},
		{name: "empty", key: "", wantErr: true},
		{name: "over 1024 bytes", key: strings.Repeat("a", MaxKeyBytes+1), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SanitizeKey(tt.key)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("SanitizeKey(%q) = %q, %v; want ErrInvalidKey", tt.key, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("SanitizeKey(%q): %v", tt.key, err)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("SanitizeKey(%q) = %q, want %q", tt.key, got, tt.want)
			}
			checkSafeSegment(t, tt.key, got)
		})
	}
}

func TestSanitizeKeyLongKeysStayDistinct(t *testing.T) {
	a, _ := SanitizeKey(strings.Repeat("k", 300) + "a")
	b, _ := SanitizeKey(strings.Repeat("k", 300) + "b")
	if a == b {
		t.Fatal("two long keys differing after the cut sanitise to the same name")
	}
}

func TestKeyPath(t *testing.T) {
	tests := []struct {
		name    string
		key     Key
		want    string
		wantErr bool
	}{
		{name: "gitlab layout", key: Key{Project: "group/sub/project", Name: "deps-protected"}, want: "group/sub/project/deps-protected"},
		{name: "slash in name stays one level", key: Key{Project: "a", Name: "b/c"}, want: "a/b%2Fc"},
		{name: "no aliasing across projects", key: Key{Project: "a/b", Name: "c"}, want: "a/b/c"},
		{name: "project dot-dot segment", key: Key{Project: "../x", Name: "k"}, want: "%2E%2E/x/k"},
		{name: "project backslash", key: Key{Project: `g\..\..`, Name: "k"}, want: `g%5C..%5C../k`},
		{name: "empty project", key: Key{Project: "", Name: "k"}, wantErr: true},
		{name: "absolute project", key: Key{Project: "/etc", Name: "k"}, wantErr: true},
		{name: "trailing slash project", key: Key{Project: "g/p/", Name: "k"}, wantErr: true},
		{name: "double slash project", key: Key{Project: "g//p", Name: "k"}, wantErr: true},
		{name: "empty name", key: Key{Project: "g/p", Name: ""}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.key.Path()
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("Path() = %q, %v; want ErrInvalidKey", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Path() = %q, %v; want %q", got, err, tt.want)
			}
			checkUnderRoot(t, got)
		})
	}
}

// checkSafeSegment asserts the properties every sanitised key must have.
func checkSafeSegment(t *testing.T, key, got string) {
	t.Helper()
	switch {
	case got == "", got == ".", got == "..":
		t.Fatalf("SanitizeKey(%q) = %q: not a usable name", key, got)
	case strings.ContainsAny(got, "/\\\x00"):
		t.Fatalf("SanitizeKey(%q) = %q: contains a separator or NUL", key, got)
	case len(got) > maxSegmentBytes:
		t.Fatalf("SanitizeKey(%q) is %d bytes long", key, len(got))
	case !utf8.ValidString(got):
		t.Fatalf("SanitizeKey(%q) = %q: not UTF-8", key, got)
	}
	for _, r := range got {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			t.Fatalf("SanitizeKey(%q) = %q: contains control character %U", key, got, r)
		}
	}
	again, err := SanitizeKey(got)
	if err != nil || again != got {
		t.Fatalf("not stable: SanitizeKey(%q) = %q, SanitizeKey of that = %q, %v", key, got, again, err)
	}
	checkUnderRoot(t, got)
}

// checkUnderRoot asserts that rel joined to a root stays strictly below it.
func checkUnderRoot(t *testing.T, rel string) {
	t.Helper()
	root := filepath.FromSlash("/var/cache/runfleet")
	joined := filepath.Join(root, rel)
	if !strings.HasPrefix(joined, root+string(filepath.Separator)) {
		t.Fatalf("Join(%q, %q) = %q escapes the root", root, rel, joined)
	}
	if r, err := filepath.Rel(root, joined); err != nil || r != filepath.FromSlash(rel) || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		t.Fatalf("Join(%q, %q) = %q is not the plain child %q", root, rel, joined, rel)
	}
}

// hostileKeys seed the fuzzers.
var hostileKeys = []string{
	"", ".", "..", "../", "/..", "../../../../etc/passwd", "/etc/passwd", "a/../../b",
	"a/./b", "a//b", "/", "//", `\`, `..\..\x`, `C:\Windows`, "C:", "a\x00b", "\x00",
	"\n", "\r\n", "\x1b[2J", "a\x7f", "\u0085", "\u202e", "\xff\xfe", "%2e%2e", "%2F",
	"..%2F..%2F", "~", "~root", "$HOME", "`id`", "$(id)", "cache.zip", ".cache.zip.tmp-1",
	strings.Repeat("a", 255), strings.Repeat("a", 256), strings.Repeat("ü", 128),
	strings.Repeat("../", 341), strings.Repeat("/", 1024), strings.Repeat("x", 1025),
	"deps-protected", "build/main-non_protected",
}

func FuzzSanitizeKey(f *testing.F) {
	for _, k := range hostileKeys {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		got, err := SanitizeKey(key)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("SanitizeKey(%q): unexpected error type %v", key, err)
			}
			return
		}
		checkSafeSegment(t, key, got)
	})
}

func FuzzKeyPath(f *testing.F) {
	for _, k := range hostileKeys {
		f.Add(k, k)
		f.Add("group/project", k)
	}
	f.Fuzz(func(t *testing.T, project, name string) {
		got, err := Key{Project: project, Name: name}.Path()
		if err != nil {
			return
		}
		if strings.ContainsRune(got, 0) {
			t.Fatalf("Path() = %q contains NUL", got)
		}
		checkUnderRoot(t, got)
		for _, seg := range strings.Split(got, "/") {
			if seg == "" || seg == "." || seg == ".." || len(seg) > maxSegmentBytes {
				t.Fatalf("Path() = %q has unsafe segment %q", got, seg)
			}
		}
	})
}
