package containerd

import (
	"context"
	"fmt"
	"io"
	"strings"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"

	"github.com/runfleet/runfleet/executors"
)

// normalizeRef returns the fully qualified form containerd stores images
// under ("busybox" -> "docker.io/library/busybox:latest").
func normalizeRef(name string) (string, error) {
	ref, err := reference.ParseDockerRef(name)
	if err != nil {
		return "", err
	}
	return ref.String(), nil
}

// ensureImage makes img available and unpacked for the snapshotter
// according to its pull policy. Failures wrap executors.ErrImagePull.
func (e *Executor) ensureImage(ctx context.Context, img executors.Image) (ctrd.Image, error) {
	if img.Name == "" {
		return nil, fmt.Errorf("containerd: empty image name: %w", executors.ErrImagePull)
	}
	ref, err := normalizeRef(img.Name)
	if err != nil {
		return nil, fmt.Errorf("containerd: image %q: %w: %w", img.Name, executors.ErrImagePull, err)
	}
	policy := img.PullPolicy
	if policy == "" {
		policy = executors.PullIfNotPresent
	}
	switch policy {
	case executors.PullAlways:
		return e.pull(ctx, ref, img.Auth)
	case executors.PullIfNotPresent, executors.PullNever:
		i, err := e.client.GetImage(ctx, ref)
		if err == nil {
			return i, e.unpack(ctx, i)
		}
		if !cerrdefs.IsNotFound(err) {
			return nil, engineErr("get image "+ref, err)
		}
		if policy == executors.PullNever {
			return nil, fmt.Errorf("containerd: image %q not present and pull policy is never: %w", img.Name, executors.ErrImagePull)
		}
		return e.pull(ctx, ref, img.Auth)
	default:
		return nil, fmt.Errorf("containerd: image %q: unknown pull policy %q: %w", img.Name, policy, executors.ErrImagePull)
	}
}

// unpack unpacks i for the executor's snapshotter unless it already is.
func (e *Executor) unpack(ctx context.Context, i ctrd.Image) error {
	ok, err := i.IsUnpacked(ctx, e.snapshotter)
	if err == nil && ok {
		return nil
	}
	if err := i.Unpack(ctx, e.snapshotter); err != nil {
		return fmt.Errorf("containerd: unpack %s: %w: %w", i.Name(), executors.ErrImagePull, err)
	}
	return nil
}

// pull fetches ref from its registry and unpacks it.
func (e *Executor) pull(ctx context.Context, ref string, auth *executors.RegistryAuth) (ctrd.Image, error) {
	e.log.InfoContext(ctx, "pulling image", "image", ref)
	i, err := e.client.Pull(ctx, ref,
		ctrd.WithPullUnpack,
		ctrd.WithPullSnapshotter(e.snapshotter),
		ctrd.WithResolver(newResolver(auth)),
	)
	if err != nil {
		return nil, fmt.Errorf("containerd: pull %q: %w: %w", ref, executors.ErrImagePull, err)
	}
	return i, nil
}

// newResolver returns a registry resolver that answers auth challenges
// with auth's credentials for its registry (any registry when
// ServerAddress is empty) and speaks plain HTTP to localhost only.
func newResolver(auth *executors.RegistryAuth) remotes.Resolver {
	opts := []docker.RegistryOpt{docker.WithPlainHTTP(docker.MatchLocalhost)}
	if auth != nil {
		want := registryHost(auth.ServerAddress)
		creds := func(host string) (string, string, error) {
			if want == "" || registryHost(host) == want {
				return auth.Username, auth.Password, nil
			}
			return "", "", nil
		}
		opts = append(opts, docker.WithAuthorizer(docker.NewDockerAuthorizer(docker.WithAuthCreds(creds))))
	}
	return docker.NewResolver(docker.ResolverOptions{Hosts: docker.ConfigureDefaultRegistries(opts...)})
}

// registryHost reduces a registry address ("https://index.docker.io/v1/")
// to its host, with Docker Hub's aliases folded into one.
func registryHost(addr string) string {
	addr = strings.TrimPrefix(strings.TrimPrefix(addr, "https://"), "http://")
	addr, _, _ = strings.Cut(addr, "/")
	switch addr {
	case "index.docker.io", "registry-1.docker.io", "docker.io":
		return "docker.io"
	}
	return addr
}

// ImportArchive imports a docker-save or OCI image archive into the
// executor's namespace, unpacks its images for the snapshotter and
// returns their names (fully qualified, e.g.
// "docker.io/runfleet/busybox:latest"). It is how images get onto nodes
// without a registry.
func (e *Executor) ImportArchive(ctx context.Context, r io.Reader) ([]string, error) {
	ctx = e.withNS(ctx)
	imgs, err := e.client.Import(ctx, r)
	if err != nil {
		return nil, engineErr("import archive", err)
	}
	names := make([]string, 0, len(imgs))
	for _, im := range imgs {
		if err := e.unpack(ctx, ctrd.NewImage(e.client, im)); err != nil {
			return names, err
		}
		names = append(names, im.Name)
	}
	return names, nil
}
