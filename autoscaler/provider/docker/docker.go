package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"

	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
	"github.com/runfleet/runfleet/executors"
)

// Defaults for Options left zero.
const (
	DefaultImage  = "runfleet/runner-dev:latest"
	DefaultSocket = "/var/run/docker.sock"
	// configDir is where the node's agent config is copied in the container.
	configDir = "/etc/runfleet"
)

// ErrHostSocketNotAllowed is returned by New unless
// Options.AllowHostDockerSocket is set.
var ErrHostSocketNotAllowed = errors.New("docker provider: node containers get the host's engine socket (root on the host); set allow_host_docker_socket = true to accept that (development and demos only)")

// DefaultOffering is the one offering of a local engine.
var DefaultOffering = policy.Offering{InstanceType: "container", Zone: "local"}

// Options configure a Provider.
type Options struct {
	// Client is the engine client; nil creates one from Host or the
	// environment, with API version negotiation.
	Client *client.Client
	Host   string
	// Fleet names the fleet (provider.LabelFleet); required.
	Fleet string
	// Image is the node image (DefaultImage).
	Image string
	// NodeConfig is the agent's config.toml (its [[runners]]); it is copied
	// to /etc/runfleet/config.toml in each node. The fleet settings, node
	// name, slots and directories come through the environment.
	NodeConfig []byte
	// Slots per node (RUNFLEET_CONCURRENT); 0 keeps the config's value.
	Slots int
	// StateDir is a host directory; each node gets StateDir/<name> bind
	// mounted at the same path for its builds and cache (job containers,
	// created on the host engine, bind mount build directories by host
	// path). Required.
	StateDir string
	// Socket is the host's engine socket mounted into node containers;
	// empty: the unix socket of the engine the provider talks to.
	Socket string
	// Offerings to advertise; empty: DefaultOffering.
	Offerings []policy.Offering
	// MaxNodes makes Launch answer a CapacityError beyond this many live
	// nodes (0 = no limit), like a cloud running out of capacity.
	MaxNodes int
	// Env is added to every node's environment.
	Env []string
	// AllowHostDockerSocket must be true: each node container gets the
	// engine's socket (Socket), which is root on the engine's host. The
	// provider is for development boxes and demos; New refuses without
	// it and warns when it starts.
	AllowHostDockerSocket bool
	// FleetCA is the PEM CA bundle nodes trust for a fleet API served
	// over TLS: written to each node's directory and named by
	// RUNFLEET_FLEET_CA_FILE. Empty: the system roots.
	FleetCA []byte

	Logger *slog.Logger
	Now    func() time.Time
}

// Provider launches nodes as containers. It implements the control
// plane's Provider interface.
type Provider struct {
	o   Options
	c   *client.Client
	own bool
	log *slog.Logger
	mu  sync.Mutex // serialises Launch so MaxNodes holds
}

// New returns a Provider.
func New(o Options) (*Provider, error) {
	if o.Fleet == "" || o.StateDir == "" {
		return nil, errors.New("docker provider: Fleet and StateDir are required")
	}
	if !o.AllowHostDockerSocket {
		return nil, ErrHostSocketNotAllowed
	}
	if !filepath.IsAbs(o.StateDir) {
		return nil, fmt.Errorf("docker provider: state dir %q must be absolute", o.StateDir)
	}
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if len(o.Offerings) == 0 {
		o.Offerings = []policy.Offering{DefaultOffering}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Provider{o: o, c: o.Client, log: o.Logger.With("provider", "docker")}
	if p.c == nil {
		opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
		if o.Host != "" {
			opts = append(opts, client.WithHost(o.Host))
		}
		c, err := client.NewClientWithOpts(opts...)
		if err != nil {
			return nil, fmt.Errorf("docker provider: client: %w", err)
		}
		p.c, p.own = c, true
	}
	if p.o.Socket == "" {
		// The socket the provider itself talks to (DOCKER_HOST or Host),
		// so nodes reach the same engine; DefaultSocket otherwise.
		p.o.Socket = DefaultSocket
		if h, ok := strings.CutPrefix(p.c.DaemonHost(), "unix://"); ok && h != "" {
			p.o.Socket = h
		}
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("docker provider: state dir: %w", err)
	}
	p.log.Warn("DOCKER PROVIDER: every node container gets the engine socket, which is root on the engine's host: for development boxes and demos only, never for other people's jobs",
		"socket", p.o.Socket)
	return p, nil
}

// Close releases the engine client when New created it.
func (p *Provider) Close() error {
	if p.own {
		return p.c.Close()
	}
	return nil
}

// Offerings returns the configured offerings.
func (p *Provider) Offerings(context.Context) ([]policy.Offering, error) {
	return p.o.Offerings, nil
}

func (p *Provider) fleetFilter() filters.Args {
	return filters.NewArgs(
		filters.Arg("label", provider.LabelManaged+"=true"),
		filters.Arg("label", provider.LabelFleet+"="+p.o.Fleet),
	)
}

// List returns the fleet's node containers, stopped ones too.
func (p *Provider) List(ctx context.Context) ([]provider.Instance, error) {
	cs, err := p.c.ContainerList(ctx, container.ListOptions{All: true, Filters: p.fleetFilter()})
	if err != nil {
		return nil, fmt.Errorf("docker provider: list: %w", err)
	}
	out := make([]provider.Instance, 0, len(cs))
	for _, c := range cs {
		if waiting(c) {
			continue // in the warm pool: not a node yet (see Warm)
		}
		name := strings.TrimPrefix(firstOr(c.Names, c.ID), "/")
		out = append(out, provider.Instance{
			ProviderID: name, Name: name, Pool: c.Labels[provider.LabelPool],
			Offering: p.offering(c.Labels[provider.LabelOffering]), State: state(c.State),
			LaunchedAt: time.Unix(c.Created, 0).UTC(),
		})
	}
	return out, nil
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// state maps the engine's container state onto the provider vocabulary.
func state(s string) string {
	switch s {
	case "created":
		return "pending"
	case "running", "restarting", "paused":
		return "running"
	case "removing":
		return "stopping"
	}
	return "terminated" // exited, dead
}

func (p *Provider) offering(key string) policy.Offering {
	for _, o := range p.o.Offerings {
		if provider.OfferingKey(o) == key {
			return o
		}
	}
	return DefaultOffering
}

// Launch creates and starts req.Count node containers.
func (p *Provider) Launch(ctx context.Context, req provider.LaunchRequest) ([]provider.Instance, error) {
	return p.LaunchEach(ctx, req, nil)
}

// LaunchEach is Launch, calling started (when not nil) for each node once
// its container exists and before it starts, so the caller can record the
// node before its agent registers. A node reported but not returned failed
// to start and was removed.
func (p *Provider) LaunchEach(ctx context.Context, req provider.LaunchRequest, started func(provider.Instance)) ([]provider.Instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	count := req.Count
	if p.o.MaxNodes > 0 {
		live, err := p.List(ctx)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, in := range live {
			if in.State == "pending" || in.State == "running" {
				n++
			}
		}
		count = min(count, max(p.o.MaxNodes-n, 0))
	}
	out, err := p.startWarm(ctx, req, count, started)
	if err != nil {
		return out, err
	}
	for range count - len(out) {
		in, err := p.launchOne(ctx, req, started)
		if err != nil {
			return out, err
		}
		out = append(out, in)
	}
	if count < req.Count {
		return out, &provider.CapacityError{Offering: req.Offering, Code: "NodeLimitExceeded",
			Err: fmt.Errorf("the local engine holds at most %d nodes", p.o.MaxNodes)}
	}
	return out, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (p *Provider) launchOne(ctx context.Context, req provider.LaunchRequest, started func(provider.Instance)) (provider.Instance, error) {
	in, id, cleanup, err := p.createNode(ctx, req, false)
	if err != nil {
		return provider.Instance{}, err
	}
	return p.startNode(ctx, in, id, cleanup, started)
}

// createNode creates a node container, not started; warm marks it as
// waiting in the pool's warm pool. cleanup removes it and its directory.
func (p *Provider) createNode(ctx context.Context, req provider.LaunchRequest, warm bool) (provider.Instance, string, func(), error) {
	name := fmt.Sprintf("rf-%s-%s-%s", p.o.Fleet, req.Pool, randomHex(4))
	dir := filepath.Join(p.o.StateDir, name)
	for _, d := range []string{"builds", "cache", "github", "toolcache"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return provider.Instance{}, "", nil, fmt.Errorf("docker provider: node directory: %w", err)
		}
	}
	key := provider.OfferingKey(req.Offering)
	// The node's own one-time secret: the control plane keeps its hash
	// and admits one registration with it (the join token alone admits
	// no one).
	bootstrap := "rfb_" + randomHex(32)
	env := append([]string{
		"RUNFLEET_FLEET_BOOTSTRAP_TOKEN=" + bootstrap,
		"RUNFLEET_NODE_NAME=" + name,
		"RUNFLEET_FLEET_URL=" + req.Bootstrap.FleetURL,
		"RUNFLEET_FLEET_JOIN_TOKEN=" + req.Bootstrap.JoinToken,
		"RUNFLEET_FLEET_PROVIDER_ID=" + name,
		"RUNFLEET_FLEET_POOL=" + req.Pool,
		"RUNFLEET_FLEET_OFFERING=" + key,
		"RUNFLEET_FLEET_NODE_TOKEN_FILE=" + filepath.Join(dir, "node-token"),
		"RUNFLEET_BUILDS_DIR=" + filepath.Join(dir, "builds"),
		"RUNFLEET_CACHE_DIR=" + filepath.Join(dir, "cache"),
		// GitHub runner containers mount these from the engine's host.
		"RUNFLEET_GITHUB_STATE_DIR=" + filepath.Join(dir, "github"),
		"RUNFLEET_GITHUB_TOOL_CACHE_DIR=" + filepath.Join(dir, "toolcache"),
	}, p.o.Env...)
	if p.o.Slots > 0 {
		env = append(env, "RUNFLEET_CONCURRENT="+strconv.Itoa(p.o.Slots))
	}
	if len(p.o.FleetCA) > 0 {
		ca := filepath.Join(dir, "fleet-ca.pem")
		if err := os.WriteFile(ca, p.o.FleetCA, 0o644); err != nil {
			os.RemoveAll(dir)
			return provider.Instance{}, "", nil, fmt.Errorf("docker provider: fleet CA: %w", err)
		}
		env = append(env, "RUNFLEET_FLEET_CA_FILE="+ca)
	}
	if req.Bootstrap.Privileged {
		env = append(env, "RUNFLEET_DOCKER_PRIVILEGED=true")
	}
	labels := map[string]string{
		provider.LabelManaged: "true", provider.LabelFleet: p.o.Fleet,
		provider.LabelPool: req.Pool, provider.LabelOffering: key,
	}
	if warm {
		labels[labelWarm] = "true"
	}
	cfg := &container.Config{Image: p.o.Image, Env: env, Labels: labels, Hostname: name}
	hc := &container.HostConfig{
		// See the package doc: the engine socket goes to the node only.
		Binds:       []string{p.o.Socket + ":/var/run/docker.sock", dir + ":" + dir},
		NetworkMode: "host",
		CapAdd:      []string{"NET_ADMIN"},
		Init:        boolPtr(true),
	}
	created, err := p.c.ContainerCreate(ctx, cfg, hc, &network.NetworkingConfig{}, nil, name)
	if err != nil {
		os.RemoveAll(dir)
		return provider.Instance{}, "", nil, fmt.Errorf("docker provider: create %s: %w", name, err)
	}
	cleanup := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = p.c.ContainerRemove(cctx, created.ID, container.RemoveOptions{Force: true})
		os.RemoveAll(dir)
	}
	if len(p.o.NodeConfig) > 0 {
		if err := p.c.CopyToContainer(ctx, created.ID, configDir, configTar(p.o.NodeConfig, p.o.Now()), container.CopyToContainerOptions{}); err != nil {
			cleanup()
			return provider.Instance{}, "", nil, fmt.Errorf("docker provider: copy config into %s: %w", name, err)
		}
	}
	in := provider.Instance{ProviderID: name, Name: name, Pool: req.Pool, Offering: req.Offering,
		State: "pending", LaunchedAt: p.o.Now(), BootstrapToken: bootstrap}
	return in, created.ID, cleanup, nil
}

// startNode reports a created node to started, then starts it.
func (p *Provider) startNode(ctx context.Context, in provider.Instance, id string, cleanup func(), started func(provider.Instance)) (provider.Instance, error) {
	if started != nil {
		started(in)
	}
	if err := p.c.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		cleanup()
		return provider.Instance{}, fmt.Errorf("docker provider: start %s: %w", in.Name, err)
	}
	p.log.Info("node container started", "node", in.Name, "pool", in.Pool)
	in.State = "running"
	return in, nil
}

func boolPtr(b bool) *bool { return &b }

// configTar is a tar stream with config.toml (0600), modified at mtime.
func configTar(b []byte, mtime time.Time) *bytes.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "config.toml", Mode: 0o600, Size: int64(len(b)), ModTime: mtime})
	_, _ = tw.Write(b)
	_ = tw.Close()
	return bytes.NewReader(buf.Bytes())
}

// reapTimeout bounds Terminate's cleanup of what a node's agent left.
const reapTimeout = 2 * time.Minute

// Terminate removes a node container, then every job container, network
// and volume its agent created on the engine (labelled with the node
// name), and its directory. A node that is gone already is success. The
// cleanup runs on even if ctx ends (up to reapTimeout): a busy node's
// warm containers and per-job networks must not outlive it.
func (p *Provider) Terminate(ctx context.Context, providerID string) error {
	if !strings.HasPrefix(providerID, "rf-"+p.o.Fleet+"-") {
		return fmt.Errorf("docker provider: %q is not a node of fleet %s: %w", providerID, p.o.Fleet, provider.ErrNotFound)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reapTimeout)
	defer cancel()
	err := p.c.ContainerRemove(ctx, providerID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("docker provider: remove %s: %w", providerID, err)
	}
	if err := p.reapJobs(ctx, providerID); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(p.o.StateDir, providerID)); err != nil {
		p.log.Warn("removing a node directory", "node", providerID, "err", err)
	}
	p.log.Info("node container removed", "node", providerID)
	return nil
}

// reapJobs removes the objects the node's agent created (labelled with
// its node name), as its own Reap would, pass after pass until a pass
// finds nothing: objects the engine was still creating for the agent
// when it died, and networks whose containers were still going, are
// caught by a later pass. It gives up when ctx ends.
func (p *Provider) reapJobs(ctx context.Context, node string) error {
	wait := 100 * time.Millisecond
	for {
		found, err := p.reapOnce(ctx, node)
		switch {
		case err == nil && found == 0:
			return nil
		case err == nil:
			continue // removed all it found: look again at once
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("docker provider: reaping what %s left: %w (%w)", node, err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// reapOnce removes what one listing finds and says how many objects it
// found (removed or not).
func (p *Provider) reapOnce(ctx context.Context, node string) (int, error) {
	f := filters.NewArgs(filters.Arg("label", executors.LabelNode+"="+node))
	var errs []error
	found := 0
	cs, err := p.c.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return 0, fmt.Errorf("list job containers: %w", err)
	}
	found += len(cs)
	for _, c := range cs {
		if err := p.c.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	nets, err := p.c.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return found, fmt.Errorf("list job networks: %w", err)
	}
	found += len(nets)
	for _, n := range nets {
		if err := p.c.NetworkRemove(ctx, n.ID); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	vols, err := p.c.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return found, fmt.Errorf("list job volumes: %w", err)
	}
	found += len(vols.Volumes)
	for _, v := range vols.Volumes {
		if err := p.c.VolumeRemove(ctx, v.Name, true); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return found, errors.Join(errs...)
}
