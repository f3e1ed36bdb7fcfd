package helperimage

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// ErrMissingLibrary is returned when the dynamic linker cannot find a
// library a binary needs.
var ErrMissingLibrary = errors.New("helperimage: library not found")

// sharedLibs returns the absolute paths of the dynamic loader and the
// libraries bin links, as ldd resolves them; none for a static binary.
func sharedLibs(ctx context.Context, bin string) ([]string, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ldd", bin)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	text := string(out) + stderr.String()
	if strings.Contains(text, "not a dynamic executable") || strings.Contains(text, "statically linked") {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("helperimage: ldd %s: %w: %s", bin, err, strings.TrimSpace(text))
	}
	return parseLdd(string(out))
}

// parseLdd reads ldd's output: "name => /path (addr)" for a library,
// "/path (addr)" for the loader, "name (addr)" for the vDSO (skipped),
// "name => not found" for a missing library (an error).
func parseLdd(out string) ([]string, error) {
	var libs []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if name, target, ok := strings.Cut(line, "=>"); ok {
			f := strings.Fields(target)
			if len(f) == 0 || f[0] == "not" {
				return nil, fmt.Errorf("%w: %s", ErrMissingLibrary, strings.TrimSpace(name))
			}
			if strings.HasPrefix(f[0], "/") {
				libs = append(libs, f[0])
			}
			continue
		}
		if f := strings.Fields(line); strings.HasPrefix(f[0], "/") {
			libs = append(libs, f[0])
		}
	}
	return libs, sc.Err()
}
