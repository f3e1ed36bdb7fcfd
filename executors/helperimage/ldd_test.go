package helperimage

import (
	"errors"
	"slices"
	"testing"
)

func TestParseLdd(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    []string
		wantErr error
	}{
		{
			name: "git on Debian 12",
			out: "\tlinux-vdso.so.1 (0x00007ffd)\n" +
				"\tlibpcre2-8.so.0 => /lib/x86_64-linux-gnu/libpcre2-8.so.0 (0x00007f01)\n" +
				"\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f02)\n" +
				"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f03)\n" +
				"\t/lib64/ld-linux-x86-64.so.2 (0x00007f04)\n",
			want: []string{"/lib/x86_64-linux-gnu/libpcre2-8.so.0", "/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"},
		},
		{
			name: "arm64 loader listed by its own path",
			out:  "\tlinux-vdso.so.1 (0x0000ffff)\n\tlibc.so.6 => /lib/aarch64-linux-gnu/libc.so.6 (0x0000ff01)\n\t/lib/ld-linux-aarch64.so.1 (0x0000ff02)\n",
			want: []string{"/lib/aarch64-linux-gnu/libc.so.6", "/lib/ld-linux-aarch64.so.1"},
		},
		{
			name:    "missing library",
			out:     "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibpcre2-8.so.0 => not found\n",
			wantErr: ErrMissingLibrary,
		},
		{name: "empty", out: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLdd(tt.out)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("libs = %q, want %q", got, tt.want)
			}
		})
	}
}
