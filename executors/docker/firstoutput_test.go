package docker

import (
	"bytes"
	"strings"
	"testing"
)

func TestEndWriter(t *testing.T) {
	const mark = "\x1eEND\x1e"
	for _, tt := range []struct {
		name   string
		writes []string
		want   string
		seen   bool
	}{
		{"mark in one write", []string{"a\nb\n" + mark + "orphan\n"}, "a\nb\n", true},
		{"mark split over writes", []string{"a\n\x1eE", "N", "D\x1elate", "later"}, "a\n", true},
		{"no newline before the mark", []string{"partial" + mark}, "partial", true},
		{"mark prefix that is not the mark", []string{"x\x1eEN", "Y\n"}, "x\x1eENY\n", false},
		{"held prefix flushed at the end", []string{"x\x1eE"}, "x\x1eE", false},
		{"no mark", []string{"a", "b"}, "ab", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := newEndWriter(&out, []byte(mark))
			for _, p := range tt.writes {
				if n, err := w.Write([]byte(p)); n != len(p) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", p, n, err)
				}
			}
			if !tt.seen {
				if err := w.flush(); err != nil {
					t.Fatal(err)
				}
			}
			if out.String() != tt.want || w.sawEnd() != tt.seen {
				t.Errorf("output %q, end seen %t; want %q, %t", out.String(), w.sawEnd(), tt.want, tt.seen)
			}
		})
	}
}

func TestStatusLine(t *testing.T) {
	s := newStatusLine()
	_, _ = s.Write([]byte("runfleet-exit="))
	select {
	case <-s.done:
		t.Fatal("done before the newline")
	default:
	}
	_, _ = s.Write([]byte("0\n"))
	select {
	case <-s.done:
	default:
		t.Fatal("done not closed by the status line's newline")
	}
	_, _ = s.Write([]byte(strings.Repeat("x", 100)))
	if got := s.String(); len(got) != 64 || !strings.HasPrefix(got, firstSuccess) {
		t.Errorf("status %q", got)
	}
}
