package docker_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/docker"
)

var nonAlnum = regexp.MustCompile(`[^a-z0-9]+`)

// uniqueNode returns a node name for one test, usable in object names.
func uniqueNode(t *testing.T) string {
	name := nonAlnum.ReplaceAllString(strings.ToLower(t.Name()), "-")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return "rfd-" + strings.Trim(name, "-") + "-" + strconv.FormatInt(time.Now().UnixNano()%1e12, 36)
}

// jobIDFor returns a job ID unique to node.
func jobIDFor(node string) string { return "j" + node }

func TestCreateErrors(t *testing.T) {
	t.Parallel()
	img := executors.Image{Name: testImage, PullPolicy: executors.PullNever}
	for _, tc := range []struct {
		name    string
		allowed []string
		spec    executors.Spec
		want    error
	}{
		{"image not allowed", []string{"registry.example/**"}, executors.Spec{Image: img}, executors.ErrImageNotAllowed},
		{"service not allowed", []string{"runfleet/*"}, executors.Spec{Image: img, Services: []executors.Service{
			{Image: executors.Image{Name: "postgres:16"}}}}, executors.ErrImageNotAllowed},
		{"missing under pull never", nil, executors.Spec{Image: executors.Image{Name: "runfleet/absent:1", PullPolicy: executors.PullNever}}, executors.ErrImagePull},
		{"registry unreachable", nil, executors.Spec{Image: executors.Image{Name: "127.0.0.1:1/nope:1", PullPolicy: executors.PullAlways}}, executors.ErrImagePull},
		{"missing service image", nil, executors.Spec{
			Image:    img,
			Mounts:   []executors.Mount{{Target: "/cache", Volume: true}},
			Services: []executors.Service{{Image: executors.Image{Name: "runfleet/absent:1", PullPolicy: executors.PullNever}}},
		}, executors.ErrImagePull},
		{"bind source missing after network, volume and service", nil, executors.Spec{
			Image: img,
			Mounts: []executors.Mount{
				{Target: "/cache", Volume: true},
				{Source: filepath.Join(t.TempDir(), "absent"), Target: "/x"},
			},
			Services: []executors.Service{{Image: executors.Image{Name: testImage, PullPolicy: executors.PullNever, Command: []string{"sleep", "60"}}}},
		}, executors.ErrEngine},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			node := uniqueNode(t)
			ex := newExecutor(t, node, func(o *docker.Options) { o.AllowedImages = tc.allowed })
			tc.spec.JobID, tc.spec.Node = jobIDFor(node), node
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			env, err := ex.Create(ctx, tc.spec)
			if err == nil {
				_ = env.Close(ctx)
				t.Fatal("Create succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Create error %v does not wrap %v", err, tc.want)
			}
			t.Logf("error: %v", err)
			if left := leftovers(t, node); len(left) != 0 {
				t.Errorf("failed Create left %q", left)
			}
		})
	}
}

// TestRegistryAuth pulls from a fake registry on loopback that demands
// basic auth, and checks the engine received the spec's credentials.
func TestRegistryAuth(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var gotUser, gotPass string
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="runfleet-test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return
		}
		mu.Lock()
		gotUser, gotPass = u, p
		mu.Unlock()
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`))
	}))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	node := uniqueNode(t)
	ex := newExecutor(t, node)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := ex.Create(ctx, executors.Spec{JobID: jobIDFor(node), Image: executors.Image{
		Name:       host + "/team/app:1",
		PullPolicy: executors.PullAlways,
		Auth:       &executors.RegistryAuth{ServerAddress: host, Username: "ci-user", Password: "s3cret"},
	}})
	if !errors.Is(err, executors.ErrImagePull) {
		t.Fatalf("Create error %v, want ErrImagePull", err)
	}
	t.Logf("error: %v", err)
	mu.Lock()
	defer mu.Unlock()
	if gotUser != "ci-user" || gotPass != "s3cret" {
		t.Errorf("registry saw credentials %q/%q, want ci-user/s3cret", gotUser, gotPass)
	}
}
