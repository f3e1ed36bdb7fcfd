package bootstrap

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// buildable are the Dockerfiles under images/ that build here, with the engine's legacy
// builder and no registry: their base comes in through a build argument and is replaced
// by the offline Debian image. check runs in the built image.
var buildable = map[string]struct {
	baseArg string
	check   string
}{
	"job-base": {"BASE_IMAGE", "git --version && curl --version && bash --version && test -s /etc/ssl/certs/ca-certificates.crt"},
}

// fromLine matches the image of a FROM instruction.
var fromLine = regexp.MustCompile(`(?mi)^(\s*FROM\s+(?:--\S+\s+)*)(\S+)`)

// layerID matches the image a legacy build step committed.
var layerID = regexp.MustCompile(`(?m)^ ---> ([0-9a-f]{12})\s*$`)

// TestDockerfiles builds every Dockerfile under images/ that needs no registry and
// syntax-checks the others with the same builder: their base images are swapped for
// scratch, so the engine parses the whole file and starts step 1 without pulling anything.
// Pinned base digests are checked by go test ./terraform/ (TestImages).
func TestDockerfiles(t *testing.T) {
	e := setup(t)
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(e.root, "images", "*", "Dockerfile"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Dockerfiles under images/: %v", err)
	}
	for _, df := range files {
		name := filepath.Base(filepath.Dir(df))
		t.Run(name, func(t *testing.T) {
			if b, ok := buildable[name]; ok {
				buildImage(t, e, df, b.baseArg, b.check)
				return
			}
			syntaxCheck(t, df)
		})
	}
}

func buildImage(t *testing.T, e *env, dockerfile, baseArg, check string) {
	image := "runfleet-test/" + filepath.Base(filepath.Dir(dockerfile)) + ":" + randomHex(6)
	cmd := exec.Command("docker", "build", "--force-rm", "--build-arg", baseArg+"="+e.base,
		"--label", testLabel, "-t", image, "-f", dockerfile, filepath.Dir(dockerfile))
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker build %s: %v\n%s", dockerfile, err, out)
	}
	addImage(image)
	if out, err := docker("run", "--rm", "--label", testLabel, image, "bash", "-c", check); err != nil {
		t.Errorf("the built image fails its check: %v\n%s", err, out)
	}
	out2, err := docker("image", "inspect", "--format", "{{json .Config.Labels}}", image)
	if err != nil {
		t.Fatal(err)
	}
	var labels map[string]string
	if err := json.Unmarshal([]byte(out2), &labels); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"org.opencontainers.image.version", "org.opencontainers.image.source", "dev.runfleet.image"} {
		if labels[k] == "" {
			t.Errorf("image has no %s label: %v", k, labels)
		}
	}
}

func syntaxCheck(t *testing.T, dockerfile string) {
	src, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	if out, ok := builderAccepts(t, src); !ok {
		t.Errorf("the engine's builder does not accept %s:\n%s", dockerfile, out)
	}
}

// builderAccepts runs the legacy builder on the Dockerfile with its bases swapped for
// scratch and reports whether the engine parsed it (it got to step 1).
func builderAccepts(t *testing.T, src []byte) (string, bool) {
	t.Helper()
	if !fromLine.Match(src) {
		return "no FROM", false
	}
	ctx := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), fromLine.ReplaceAll(src, []byte("${1}scratch")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker", "build", "--force-rm", "--no-cache", "--label", testLabel, ctx)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	out, _ := cmd.CombinedOutput() // fails at the first step that needs the real base
	// Remove the layers the steps before that committed, newest first.
	ids := layerID.FindAllStringSubmatch(string(out), -1)
	for i := len(ids) - 1; i >= 0; i-- {
		exec.Command("docker", "image", "rm", "-f", ids[i][1]).Run()
	}
	return string(out), strings.Contains(string(out), "Step 1/")
}

// TestSyntaxCheckFails proves the syntax check can fail.
func TestSyntaxCheckFails(t *testing.T) {
	if out, err := docker("version"); err != nil {
		t.Fatalf("the Docker engine is required: %v\n%s", err, out)
	}
	for _, bad := range []string{
		"FROM debian:bookworm\nRUNN echo typo\n",
		"FROM debian:bookworm\nCOPY --chmod=0755\n",
		"RUN true\n",
	} {
		if out, ok := builderAccepts(t, []byte(bad)); ok {
			t.Errorf("accepted %q:\n%s", bad, out)
		}
	}
}
