package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/containerd"
	"github.com/runfleet/runfleet/executors/docker"
	"github.com/runfleet/runfleet/runner/cache"
	"github.com/runfleet/runfleet/runner/clock"
	"github.com/runfleet/runfleet/runner/config"
)

// nodeExecutor is what the agent needs of an executor beyond the
// contract: release it at exit and prune images under disk pressure.
type nodeExecutor interface {
	executors.Executor
	Close() error
	PruneImages(ctx context.Context) (uint64, error)
}

// executorKey identifies the engine a runner uses, so runners on one
// engine share an executor.
func executorKey(r config.Runner) string {
	if r.Executor == "containerd" {
		c := r.Containerd
		return "containerd|" + c.Address + "|" + c.Namespace + "|" + c.Snapshotter + "|" + c.StateDir + "|" + c.Bridge + "|" + c.Subnet
	}
	return "docker|" + r.Docker.Host
}

// newExecutor connects to the engine of r's executor. warm is how many
// per-job networks (Docker) or network namespaces (containerd) the
// executor keeps ready. The executor serves every runner on
// that engine: each runner's allowed_images go with its specs
// (withAllowedImages), not into the executor. egress is the node's job
// egress policy (egressPolicy).
func newExecutor(r config.Runner, node string, logger *slog.Logger, warm int, egress []executors.EgressBlock) (nodeExecutor, error) {
	switch r.Executor {
	case "containerd":
		ex, err := containerd.New(containerd.Options{
			Address: r.Containerd.Address, Namespace: r.Containerd.Namespace, Snapshotter: r.Containerd.Snapshotter,
			StateDir: r.Containerd.StateDir, Bridge: r.Containerd.Bridge, Subnet: r.Containerd.Subnet, Node: node, Logger: logger,
			BlockedEgress: egress, WarmNetworks: warm,
		})
		if err != nil {
			return nil, fmt.Errorf("containerd: %w", err)
		}
		return ex, nil
	default:
		ex, err := docker.New(docker.Options{
			Host: r.Docker.Host, Node: node, Logger: logger, WarmNetworks: warm, BlockedEgress: egress,
		})
		if err != nil {
			return nil, fmt.Errorf("docker: %w", err)
		}
		return ex, nil
	}
}

// githubRunner is the engine part of a [[github]] or [[github_scale_set]]
// table (executor docker or containerd) as a [[runners]] entry, so its
// runners share the engine's one executor.
func githubRunner(g config.GitHub) config.Runner {
	return config.Runner{Executor: g.Executor, Containerd: g.Containerd, Docker: config.Docker{Host: g.DockerHost}}
}

// newCacheStore returns r's cache store, and the local store when the
// cache is local (the agent shrinks it under disk pressure). With S3 the
// agent moves the archives; the credentials never reach a job.
func newCacheStore(ctx context.Context, clk clock.Clock, r config.Runner, logger *slog.Logger) (cache.Store, *cache.LocalStore, error) {
	if r.Cache.Type == "s3" {
		s3 := r.Cache.S3
		runner := cache.ShortToken(r.Token) // gitlab-runner's, so caches carry over
		if r.Cache.Shared {
			runner = ""
		}
		st, err := cache.NewS3Store(ctx, cache.S3Options{
			Endpoint: s3.Endpoint, Region: s3.Region, Bucket: s3.Bucket, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey,
			Prefix: r.Cache.Path, Runner: runner, Logger: logger,
		})
		if err != nil {
			return nil, nil, err
		}
		return st, nil, nil
	}
	st, err := cache.NewLocalStore(r.Cache.Dir, r.Cache.MaxSize, logger, clk)
	if err != nil {
		return nil, nil, err
	}
	return st, st, nil
}
