package bootstrap

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// testLabel marks every container and image these tests create.
const testLabel = "dev.runfleet.test=bootstrap"

// env is what every test here shares: built once per test binary, removed by TestMain.
type env struct {
	root     string // repository root
	dir      string // scratch directory for the binaries
	base     string // the fresh Debian image (build-offline.sh)
	fakenode string // static fakenode binary
	runner   string // static runner binary
	busybox  string // a static busybox (for `ip` inside the containers)
}

var (
	shared     env
	sharedErr  error
	sharedOnce sync.Once
	images     []string // images to remove at the end
	imagesMu   sync.Mutex
)

func TestMain(m *testing.M) {
	code := m.Run()
	imagesMu.Lock()
	for _, img := range images {
		exec.Command("docker", "image", "rm", "-f", img).Run()
	}
	imagesMu.Unlock()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// setup returns the shared environment, building it on first use. A missing Docker engine
// fails the test: these are integration tests, never skipped.
func setup(t *testing.T) *env {
	t.Helper()
	sharedOnce.Do(func() { sharedErr = build(&shared) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return &shared
}

func build(e *env) error {
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.APIVersion}}").CombinedOutput(); err != nil {
		return fmt.Errorf("the Docker engine is required (DOCKER_HOST or /var/run/docker.sock): %v\n%s", err, out)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	e.root = root
	if e.dir, err = os.MkdirTemp("", "runfleet-bootstrap-"); err != nil {
		return err
	}
	// busybox-static: `make images` needs it too. Its `ip` adds the IMDS address in a container.
	for _, bb := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if _, err := os.Stat(bb); err == nil {
			e.busybox = bb
			break
		}
	}
	if e.busybox == "" {
		return errors.New("busybox is needed (apt-get install busybox-static)")
	}
	e.fakenode = filepath.Join(e.dir, "fakenode")
	e.runner = filepath.Join(e.dir, "runner")
	for _, b := range []struct{ out, pkg string }{{e.fakenode, "./tests/bootstrap/fakenode"}, {e.runner, "./cmd/runner"}} {
		cmd := exec.Command("go", "build", "-trimpath", "-o", b.out, b.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	e.base = "runfleet-test/bootstrap-base:" + randomHex(6)
	cmd := exec.Command(filepath.Join(root, "images", "job-base", "build-offline.sh"), e.base)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("images/job-base/build-offline.sh: %v\n%s", err, out)
	}
	addImage(e.base)
	return nil
}

func addImage(name string) {
	imagesMu.Lock()
	images = append(images, name)
	imagesMu.Unlock()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// docker runs the docker CLI and returns its combined output; an error carries the output.
func docker(args ...string) (string, error) {
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// entry is one file copied out of a container.
type entry struct {
	mode     os.FileMode
	uid      int
	linkname string
	data     []byte
}

// copyOut reads path (a file or a directory tree) out of a container, running or stopped,
// with modes and owners as they are inside. Keys are absolute paths in the container.
func copyOut(t *testing.T, ctr, path string) map[string]entry {
	t.Helper()
	cmd := exec.Command("docker", "cp", ctr+":"+path, "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker cp %s:%s: %v\n%s", ctr, path, err, stderr.String())
	}
	files := map[string]entry{}
	tr := tar.NewReader(bytes.NewReader(out))
	parent := filepath.Dir(path)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(parent, strings.TrimSuffix(h.Name, "/"))
		files[name] = entry{mode: h.FileInfo().Mode(), uid: h.Uid, linkname: h.Linkname, data: data}
	}
	return files
}
