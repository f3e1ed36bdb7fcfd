package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
)

// IdentitySource supplies the signed instance identity a node presents at
// registration.
type IdentitySource interface {
	Identity(ctx context.Context) (fleetapi.Identity, error)
}

// EC2Identity reads the instance identity document and its base64 RSA
// signature from the EC2 instance metadata service (IMDSv2 only: a
// session token first, no fallback to IMDSv1).
type EC2Identity struct {
	c *imds.Client
}

// NewEC2Identity returns a source reading the metadata service at
// endpoint (empty: the default link-local address).
func NewEC2Identity(endpoint string) *EC2Identity {
	return &EC2Identity{c: imds.New(imds.Options{Endpoint: endpoint, EnableFallback: aws.FalseTernary})}
}

// Identity fetches the document and its signature.
func (e *EC2Identity) Identity(ctx context.Context) (fleetapi.Identity, error) {
	doc, err := e.get(ctx, "instance-identity/document")
	if err != nil {
		return fleetapi.Identity{}, err
	}
	sig, err := e.get(ctx, "instance-identity/signature")
	if err != nil {
		return fleetapi.Identity{}, err
	}
	return fleetapi.Identity{Document: doc, Signature: sig}, nil
}

// LifecycleState is the instance's Auto Scaling target lifecycle state
// (InService, Warmed:Stopped, Warmed:Running, ...); "" for an instance in
// no group.
func (e *EC2Identity) LifecycleState(ctx context.Context) (string, error) {
	out, err := e.c.GetMetadata(ctx, &imds.GetMetadataInput{Path: "autoscaling/target-lifecycle-state"})
	if err != nil {
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
			return "", nil
		}
		return "", fmt.Errorf("instance metadata autoscaling/target-lifecycle-state: %w", err)
	}
	defer out.Content.Close()
	b, err := io.ReadAll(io.LimitReader(out.Content, 1<<10))
	if err != nil {
		return "", fmt.Errorf("instance metadata autoscaling/target-lifecycle-state: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (e *EC2Identity) get(ctx context.Context, path string) (string, error) {
	out, err := e.c.GetDynamicData(ctx, &imds.GetDynamicDataInput{Path: path})
	if err != nil {
		return "", fmt.Errorf("instance metadata %s: %w", path, err)
	}
	defer out.Content.Close()
	b, err := io.ReadAll(io.LimitReader(out.Content, 64<<10))
	if err != nil {
		return "", fmt.Errorf("instance metadata %s: %w", path, err)
	}
	return string(b), nil
}
