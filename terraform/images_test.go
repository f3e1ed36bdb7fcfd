package tfcheck

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dockerfile is what the image checks need from a Dockerfile: its stages' base images
// (ARG defaults substituted) and the instructions of its final stage.
type dockerfile struct {
	froms      []string // base image of each stage, as written after substitution
	stageNames map[string]bool
	final      []string // instructions of the last stage, one per logical line
}

func parseDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, drop comments.
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(src)))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") || (l == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\") + " ")
			continue
		}
		cur.WriteString(l)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	df := dockerfile{stageNames: map[string]bool{}}
	args := map[string]string{}
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		switch strings.ToUpper(instr) {
		case "ARG":
			if k, v, ok := strings.Cut(strings.TrimSpace(rest), "="); ok && len(df.froms) == 0 {
				args[k] = strings.Trim(v, `"`)
			}
		case "FROM":
			f := strings.Fields(rest)
			var img string
			for _, w := range f {
				if !strings.HasPrefix(w, "--") {
					img = w
					break
				}
			}
			img = os.Expand(img, func(k string) string { return args[k] })
			df.froms = append(df.froms, img)
			if n := len(f); n >= 3 && strings.EqualFold(f[n-2], "AS") {
				df.stageNames[f[n-1]] = true
			}
			df.final = nil
		default:
			df.final = append(df.final, l)
		}
	}
	return df
}

var digestPinned = regexp.MustCompile(`^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$`)

// TestImages checks the Dockerfiles this issue owns: base images pinned by digest (or a
// stage of the same file), OCI labels with version and source, a non-root user for the
// agent image, and build scripts that parse.
func TestImages(t *testing.T) {
	cases := []struct {
		dockerfile string
		nonRoot    bool
		scripts    []string
	}{
		{filepath.Join("..", "images", "runner", "Dockerfile"), true, []string{filepath.Join("..", "images", "runner", "build.sh")}},
		{filepath.Join("..", "images", "job-base", "Dockerfile"), false, []string{filepath.Join("..", "images", "job-base", "build-offline.sh")}},
	}
	for _, c := range cases {
		t.Run(filepath.Base(filepath.Dir(c.dockerfile)), func(t *testing.T) {
			df := parseDockerfile(t, c.dockerfile)
			for _, p := range imageProblems(df, c.nonRoot) {
				t.Error(p)
			}
			bash, err := exec.LookPath("bash")
			if err != nil {
				t.Fatalf("bash is needed to check the scripts: %v", err)
			}
			for _, s := range c.scripts {
				if msg, err := exec.Command(bash, "-n", s).CombinedOutput(); err != nil {
					t.Errorf("bash -n %s: %v\n%s", s, err, msg)
				}
			}
		})
	}
	// Every other Dockerfile under images/: bases pinned by digest, or runfleet/* images
	// that images/*/build.sh make offline on this machine.
	all, err := filepath.Glob(filepath.Join("..", "images", "*", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range all {
		df := parseDockerfile(t, path)
		if len(df.froms) == 0 {
			t.Errorf("%s: no FROM", path)
		}
		for _, img := range df.froms {
			if df.stageNames[img] || img == "scratch" || strings.HasPrefix(img, "runfleet/") {
				continue
			}
			if !digestPinned.MatchString(img) {
				t.Errorf("%s: base image %q is not pinned by digest (name:tag@sha256:…)", path, img)
			}
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed to syntax-check check.sh (Debian package bash): %v", err)
	}
	if msg, err := exec.Command(bash, "-n", "check.sh").CombinedOutput(); err != nil {
		t.Errorf("bash -n check.sh: %v\n%s", err, msg)
	}
}

// imageProblems lists what is wrong with a parsed Dockerfile.
func imageProblems(df dockerfile, nonRoot bool) []string {
	var out []string
	if len(df.froms) == 0 {
		return []string{"no FROM"}
	}
	for _, img := range df.froms {
		if df.stageNames[img] || img == "scratch" {
			continue
		}
		if !digestPinned.MatchString(img) {
			out = append(out, fmt.Sprintf("base image %q is not pinned by digest (name:tag@sha256:…)", img))
		}
	}
	final := strings.Join(df.final, "\n")
	for _, label := range []string{"org.opencontainers.image.version=", "org.opencontainers.image.source="} {
		if !strings.Contains(final, label) {
			out = append(out, fmt.Sprintf("final stage has no %s label", strings.TrimSuffix(label, "=")))
		}
	}
	if nonRoot {
		user := ""
		for _, l := range df.final {
			if strings.HasPrefix(strings.ToUpper(l), "USER ") {
				user = strings.TrimSpace(l[5:])
			}
		}
		if u, _, _ := strings.Cut(user, ":"); u == "" || u == "0" || u == "root" {
			out = append(out, fmt.Sprintf("final stage runs as %q, want a non-root USER", user))
		}
	}
	return out
}

// TestImageChecksCatchBadDockerfile proves the image checks can fail.
func TestImageChecksCatchBadDockerfile(t *testing.T) {
	df := parseDockerfile(t, filepath.Join("testdata", "bad", "Dockerfile"))
	got := strings.Join(imageProblems(df, true), "\n")
	for _, want := range []string{`"golang:1.26" is not pinned`, `"debian:bookworm-slim" is not pinned`, "no org.opencontainers.image.source label", `runs as "root"`} {
		if !strings.Contains(got, want) {
			t.Errorf("image checks did not report %q; they reported:\n%s", want, got)
		}
	}
}
