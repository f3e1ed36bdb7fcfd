package docker

import (
	"context"
	"fmt"
	"io"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/runfleet/runfleet/executors"
)

// ensureImage makes img available on the engine according to its pull
// policy. Failures wrap executors.ErrImagePull with the engine's message.
func (e *Executor) ensureImage(ctx context.Context, img executors.Image) error {
	if img.Name == "" {
		return fmt.Errorf("docker: empty image name: %w", executors.ErrImagePull)
	}
	policy := img.PullPolicy
	if policy == "" {
		policy = executors.PullIfNotPresent
	}
	switch policy {
	case executors.PullAlways:
		return e.pull(ctx, img)
	case executors.PullIfNotPresent, executors.PullNever:
		_, err := e.api.ImageInspect(ctx, img.Name)
		if err == nil {
			return nil
		}
		if !isNotFound(err) {
			return fmt.Errorf("docker: inspect image %q: %w: %w", img.Name, executors.ErrEngine, err)
		}
		if policy == executors.PullNever {
			return fmt.Errorf("docker: image %q not present and pull policy is never: %w", img.Name, executors.ErrImagePull)
		}
		return e.pull(ctx, img)
	default:
		return fmt.Errorf("docker: image %q: unknown pull policy %q: %w", img.Name, policy, executors.ErrImagePull)
	}
}

// pull pulls img, reading the progress stream to its end: the engine
// reports most pull failures inside the stream, not as an HTTP status.
func (e *Executor) pull(ctx context.Context, img executors.Image) error {
	auth, err := encodeAuth(img.Auth)
	if err != nil {
		return fmt.Errorf("docker: pull %q: %w: %w", img.Name, executors.ErrImagePull, err)
	}
	e.log.InfoContext(ctx, "pulling image", "image", img.Name)
	rc, err := e.api.ImagePull(ctx, img.Name, image.PullOptions{RegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("docker: pull %q: %w: %w", img.Name, executors.ErrImagePull, err)
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("docker: pull %q: %w: %w", img.Name, executors.ErrImagePull, err)
	}
	return nil
}

// encodeAuth returns the X-Registry-Auth value for a, or "" for no auth.
func encodeAuth(a *executors.RegistryAuth) (string, error) {
	if a == nil {
		return "", nil
	}
	return registry.EncodeAuthConfig(registry.AuthConfig{
		Username:      a.Username,
		Password:      a.Password,
		ServerAddress: a.ServerAddress,
	})
}
