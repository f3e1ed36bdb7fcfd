package gitlab

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func maskAll(t testing.TB, in string, secrets, prefixes []string, chunks []int) string {
	t.Helper()
	var out bytes.Buffer
	m := NewMasker(&out, secrets, prefixes)
	rest := in
	for _, n := range chunks {
		n = min(n, len(rest))
		if _, err := m.Write([]byte(rest[:n])); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if _, err := m.Write([]byte(rest)); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestMasker(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		secrets  []string
		prefixes []string
		want     string
	}{
		{"plain", "nothing to hide\n", []string{"hunter2"}, nil, "nothing to hide\n"},
		{"one secret", "pw=hunter2!", []string{"hunter2"}, nil, "pw=[MASKED]!"},
		{"repeated", "hunter2hunter2 hunter2", []string{"hunter2"}, nil, "[MASKED][MASKED] [MASKED]"},
		{"longest wins", "abcdef", []string{"abc", "abcdef"}, nil, "[MASKED]"},
		{"overlapping", "xabcdy", []string{"abc", "bcd"}, nil, "x[MASKED]dy"},
		{"partial at end", "hunter", []string{"hunter2"}, nil, "hunter"},
		{"url encoded", "u=p%40ss+w%2Frd p%40ss%20w%2Frd p@ss%20w%2Frd", []string{"p@ss w/rd"}, nil, "u=[MASKED] [MASKED] [MASKED]"},
		{"token prefix", "tok glpat-AbC_12-x9 end", nil, []string{"glpat-"}, "tok glpat-[MASKED] end"},
		{"prefix alone", "glpat- and glpat-", nil, []string{"glpat-"}, "glpat- and glpat-"},
		{"token at end", "glcbt-abc", nil, []string{"glcbt-", "glpat-"}, "glcbt-[MASKED]"},
		{"secret longer than token", "glpat-ab cd!", []string{"glpat-ab cd"}, []string{"glpat-"}, "[MASKED]!"},
		{"token covers secret", "glpat-abcdef.", []string{"glpat-abc"}, []string{"glpat-"}, "glpat-[MASKED]."},
		{"empty secret ignored", "abc", []string{""}, []string{""}, "abc"},
		{"single byte secret", "a-b-a", []string{"a"}, nil, "[MASKED]-b-[MASKED]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := maskAll(t, tc.in, tc.secrets, tc.prefixes, nil); got != tc.want {
				t.Errorf("whole: %q, want %q", got, tc.want)
			}
			ones := make([]int, len(tc.in))
			for i := range ones {
				ones[i] = 1
			}
			if got := maskAll(t, tc.in, tc.secrets, tc.prefixes, ones); got != tc.want {
				t.Errorf("byte by byte: %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMaskerHoldsBackOnlyPartialMatches(t *testing.T) {
	var out bytes.Buffer
	m := NewMasker(&out, []string{"secret-value"}, []string{"glpat-"})
	m.Write([]byte("line one\nsecr"))
	if out.String() != "line one\n" {
		t.Fatalf("out %q", out.String())
	}
	m.Write([]byte("ET\n"))
	if out.String() != "line one\nsecrET\n" {
		t.Fatalf("out %q", out.String())
	}
	m.Write([]byte("glpat-abc"))
	if out.String() != "line one\nsecrET\nglpat-[MASKED]" {
		t.Fatalf("token not masked at once: %q", out.String())
	}
	m.Write([]byte("def more"))
	m.Close()
	if out.String() != "line one\nsecrET\nglpat-[MASKED] more" {
		t.Fatalf("out %q", out.String())
	}
	if _, err := m.Write([]byte("x")); err == nil {
		t.Error("write after close accepted")
	}
}

// TestMaskerSplitProperty: for random streams and random splits, the output
// equals masking the whole stream at once, and never contains a secret.
func TestMaskerSplitProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		checkSplits(t, r, i%3 == 0)
	}
}

func checkSplits(t *testing.T, r *rand.Rand, withPrefixes bool) {
	const alphabet = "ab c%-_\n" // no byte of "[MASKED]"
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	var secrets, prefixes []string
	for range 1 + r.IntN(3) {
		secrets = append(secrets, word(1+r.IntN(6)))
	}
	if withPrefixes {
		prefixes = []string{"c%"}
	}
	var sb strings.Builder
	for range r.IntN(12) {
		if r.IntN(2) == 0 {
			sb.WriteString(secrets[r.IntN(len(secrets))])
		} else {
			sb.WriteString(word(r.IntN(8)))
		}
	}
	in := sb.String()
	want := maskAll(t, in, secrets, prefixes, nil)
	var chunks []int
	for range r.IntN(8) {
		chunks = append(chunks, r.IntN(6))
	}
	if got := maskAll(t, in, secrets, prefixes, chunks); got != want {
		t.Fatalf("in %q secrets %q prefixes %q chunks %v:\n got %q\nwant %q", in, secrets, prefixes, chunks, got, want)
	}
	if !withPrefixes {
		for _, s := range secrets {
			if strings.Contains(want, s) {
				t.Fatalf("in %q secrets %q: output %q contains %q", in, secrets, want, s)
			}
		}
	}
}

func FuzzMasker(f *testing.F) {
	f.Add("pw=hunter2 glpat-xyz", "hunter2", uint8(3))
	f.Add("aaaa", "aa", uint8(1))
	f.Fuzz(func(t *testing.T, in, secret string, step uint8) {
		secrets := []string{secret}
		prefixes := []string{"glpat-"}
		want := maskAll(t, in, secrets, prefixes, nil)
		var chunks []int
		for n := 0; n < len(in); n += int(step%7) + 1 {
			chunks = append(chunks, int(step%7)+1)
		}
		if got := maskAll(t, in, secrets, prefixes, chunks); got != want {
			t.Fatalf("split output %q != whole %q", got, want)
		}
		if secret != "" && !strings.ContainsAny(secret, "[MASKED]-_") && !strings.Contains(in, "glpat-") &&
			strings.Contains(want, secret) {
			t.Fatalf("output %q contains the secret %q", want, secret)
		}
	})
}

func BenchmarkMasker(b *testing.B) {
	line := []byte(strings.Repeat("compiling module foo/bar/baz ... ok\n", 100))
	m := NewMasker(ioDiscard{}, []string{"hunter2hunter2", "another-secret-value", "s3cr3t!"}, []string{"glpat-", "glcbt-"})
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		m.Write(line)
	}
}

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }
