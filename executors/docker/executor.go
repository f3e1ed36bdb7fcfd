package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/docker/docker/client"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/internal/allowlist"
	"github.com/runfleet/runfleet/executors/internal/egress"
	"github.com/runfleet/runfleet/executors/internal/warmpool"
)

// Options configure an Executor.
type Options struct {
	// Client is the engine client to use. When nil, New creates one for
	// Host, or from the environment (DOCKER_HOST etc.) when Host is empty.
	Client *client.Client
	// Host is the engine address, e.g. "unix:///var/run/docker.sock".
	Host string
	// Node is this agent's node name; it labels every object (LabelNode)
	// and scopes Reap. Required.
	Node string
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// AllowedImages are glob patterns ("*" within a path segment, "**"
	// across segments); empty allows every image. Services are checked too.
	AllowedImages []string
	// ExtraCapAdd adds Linux capabilities (e.g. "NET_RAW") to the minimal
	// set granted to unprivileged job and service containers.
	ExtraCapAdd []string
	// CleanupTimeout bounds removal on Close, on a failed Create and in
	// Reap; zero means 30s.
	CleanupTimeout time.Duration
	// Now is the clock used for step durations; nil means time.Now.
	Now func() time.Time
	// AllowMetadata lets jobs reach the cloud metadata endpoint
	// (169.254.169.254, fd00:ec2::254). By default the executor installs a
	// firewall rule against it and New fails when it cannot.
	AllowMetadata bool
	// WarmNetworks is how many per-job networks to keep created ahead of
	// time (0 = none). Each still serves one job only. Call Close to
	// remove the unused ones.
	WarmNetworks int
	// BlockedEgress are more destinations jobs must not reach (the control
	// plane, the agent's listeners, operator networks). New fails when
	// their IPv4 rules cannot be installed.
	BlockedEgress []executors.EgressBlock
}

// Executor runs jobs on one Docker engine. It is safe for concurrent use.
type Executor struct {
	api            engine
	ownClient      *client.Client // closed by Close when New created it
	node           string
	log            *slog.Logger
	allowed        []allowlist.Pattern
	extraCaps      []string
	cleanupTimeout time.Duration
	egress         egress.Installed // the egress rules New inserted
	now            func() time.Time

	mu   sync.Mutex
	live map[string]struct{} // job IDs of Envs that are not closed yet
	info *EngineInfo         // storage facts, asked once (planDisk)

	warm *warmpool.Pool[warmNet] // warm.go
}

var _ executors.Executor = (*Executor)(nil)

// New returns an Executor for the engine described by opts.
func New(opts Options) (*Executor, error) {
	if opts.Node == "" {
		return nil, errors.New("docker: Options.Node is required")
	}
	pats, err := allowlist.Compile(opts.AllowedImages)
	if err != nil {
		return nil, fmt.Errorf("docker: allowed images: %w", err)
	}
	e := &Executor{
		node:           opts.Node,
		log:            opts.Logger,
		allowed:        pats,
		extraCaps:      opts.ExtraCapAdd,
		cleanupTimeout: opts.CleanupTimeout,
		now:            opts.Now,
		live:           map[string]struct{}{},
	}
	e.warm = newWarmPool(e, opts.WarmNetworks)
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.log = e.log.With("executor", "docker", "node", opts.Node)
	if e.now == nil {
		e.now = time.Now
	}
	if e.cleanupTimeout <= 0 {
		e.cleanupTimeout = 30 * time.Second
	}
	if opts.Client != nil {
		e.api = opts.Client
		return e, e.finishNew(opts)
	}
	copts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if opts.Host != "" {
		copts = append(copts, client.WithHost(opts.Host))
	}
	c, err := client.NewClientWithOpts(copts...)
	if err != nil {
		return nil, fmt.Errorf("docker: client: %w", err)
	}
	e.api, e.ownClient = c, c
	return e, e.finishNew(opts)
}

// finishNew applies the settings that need the engine's host.
func (e *Executor) finishNew(opts Options) error {
	if err := e.guardEgress(opts.Host, opts.BlockedEgress); err != nil {
		return err
	}
	if opts.AllowMetadata {
		e.log.Warn("jobs may reach the cloud metadata endpoint (AllowMetadata)")
		return nil
	}
	return e.guardMetadata()
}

// Close removes the warm networks nobody took and releases the engine
// client if New created it. It does not touch running Envs.
func (e *Executor) Close() error {
	e.egress.RemoveAll()
	e.drainWarm(context.Background())
	if e.ownClient == nil {
		return nil
	}
	return e.ownClient.Close()
}

// claim registers jobID as owned by a live Env.
func (e *Executor) claim(jobID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.live[jobID]; ok {
		return fmt.Errorf("docker: job %q already has a live environment", jobID)
	}
	e.live[jobID] = struct{}{}
	return nil
}

// release forgets jobID.
func (e *Executor) release(jobID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.live, jobID)
}

// isLive reports whether jobID belongs to a live Env.
func (e *Executor) isLive(jobID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.live[jobID]
	return ok
}
