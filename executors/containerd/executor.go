package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/internal/allowlist"
	"github.com/runfleet/runfleet/executors/internal/warmpool"
)

// Defaults of Options.
const (
	DefaultAddress     = "/run/containerd/containerd.sock"
	DefaultNamespace   = "runfleet"
	DefaultSnapshotter = "overlayfs"
	DefaultRuntime     = "io.containerd.runc.v2"
	DefaultStateDir    = "/var/lib/runfleet/containerd"
	DefaultBridge      = "rf-cni0"
	DefaultSubnet      = "10.231.0.0/16"
)

// DefaultPluginDirs are where CNI plugins are looked for: Debian's
// containernetworking-plugins, then the upstream default.
var DefaultPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// Options configure an Executor.
type Options struct {
	// Address is containerd's socket; empty means $CONTAINERD_ADDRESS or
	// DefaultAddress.
	Address string
	// Namespace is the containerd namespace of every object; default
	// DefaultNamespace.
	Namespace string
	// Snapshotter unpacks images and holds container layers; default
	// DefaultSnapshotter.
	Snapshotter string
	// Runtime is the default shim (Spec.Runtime overrides it per job: a
	// full name such as "io.containerd.runsc.v1"); default DefaultRuntime.
	Runtime string
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
	// StateDir holds per-job network namespaces, hosts files and volumes,
	// under StateDir/<node>/<job>; default DefaultStateDir.
	StateDir string
	// InitPath is a static init (tini) bind-mounted as the containers'
	// PID 1; empty looks for docker-init, tini-static on PATH. When none
	// is found the idle keeper shell is PID 1 and reaps orphans itself.
	InitPath string
	// PluginDirs are searched for CNI plugins; default DefaultPluginDirs.
	PluginDirs []string
	// Bridge is the job networks' bridge interface; default DefaultBridge.
	Bridge string
	// Subnet is the IPv4 range of job networks; default DefaultSubnet.
	Subnet string
	// AllowMetadata lets jobs reach the cloud metadata endpoint. By default
	// New installs a firewall rule against it and fails when it cannot.
	AllowMetadata bool
	// BlockedEgress are more destinations jobs must not reach (the control
	// plane, the agent's listeners, operator networks). Job networks are
	// IPv4-only: IPv6 blocks are not needed. New fails when a rule cannot
	// be installed.
	BlockedEgress []executors.EgressBlock
	// WarmNetworks is how many per-job network namespaces to keep set up
	// on the bridge ahead of time (0 = none). Each still serves one job.
	// Call Close to tear down the unused ones.
	WarmNetworks int
	// CleanupTimeout bounds removal on Close, on a failed Create and in
	// Reap; zero means 30s.
	CleanupTimeout time.Duration
	// LeaseExpiry is the safety-net expiration of each job's lease; zero
	// means 24h.
	LeaseExpiry time.Duration
	// Now is the clock used for step durations; nil means time.Now.
	Now func() time.Time
}

// Executor runs jobs on one containerd daemon. It is safe for concurrent
// use.
type Executor struct {
	client         *ctrd.Client
	ns             string
	snapshotter    string
	runtime        string
	node           string
	log            *slog.Logger
	allowed        []allowlist.Pattern
	extraCaps      []string
	stateDir       string
	initPath       string
	cleanupTimeout time.Duration
	leaseExpiry    time.Duration
	now            func() time.Time
	net            *networks
	warm           *warmpool.Pool[warmNS] // warm.go

	mu   sync.Mutex
	live map[string]struct{} // job IDs of Envs that are not closed yet
}

var _ executors.Executor = (*Executor)(nil)

// New connects to containerd and returns an Executor for it.
func New(opts Options) (*Executor, error) {
	if opts.Node == "" {
		return nil, errors.New("containerd: Options.Node is required")
	}
	if err := validName(opts.Node); err != nil {
		return nil, fmt.Errorf("containerd: node name: %w", err)
	}
	pats, err := allowlist.Compile(opts.AllowedImages)
	if err != nil {
		return nil, fmt.Errorf("containerd: allowed images: %w", err)
	}
	e := &Executor{
		ns:             firstNonEmpty(opts.Namespace, DefaultNamespace),
		snapshotter:    firstNonEmpty(opts.Snapshotter, DefaultSnapshotter),
		runtime:        firstNonEmpty(opts.Runtime, DefaultRuntime),
		node:           opts.Node,
		log:            opts.Logger,
		allowed:        pats,
		extraCaps:      opts.ExtraCapAdd,
		stateDir:       firstNonEmpty(opts.StateDir, DefaultStateDir),
		cleanupTimeout: opts.CleanupTimeout,
		leaseExpiry:    opts.LeaseExpiry,
		now:            opts.Now,
		live:           map[string]struct{}{},
	}
	e.warm = newWarmPool(e, opts.WarmNetworks)
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.log = e.log.With("executor", "containerd", "node", opts.Node)
	if e.now == nil {
		e.now = time.Now
	}
	if e.cleanupTimeout <= 0 {
		e.cleanupTimeout = 30 * time.Second
	}
	if e.leaseExpiry <= 0 {
		e.leaseExpiry = 24 * time.Hour
	}
	e.initPath = findInit(opts.InitPath)
	if e.initPath == "" {
		e.log.Warn("no static init (docker-init, tini-static) found: the idle keeper shell is PID 1")
	}
	subnet := firstNonEmpty(opts.Subnet, DefaultSubnet)
	if _, _, err := net.ParseCIDR(subnet); err != nil {
		return nil, fmt.Errorf("containerd: subnet: %w", err)
	}
	dirs := opts.PluginDirs
	if len(dirs) == 0 {
		dirs = DefaultPluginDirs
	}
	e.net, err = newNetworks(dirs, firstNonEmpty(opts.Bridge, DefaultBridge), subnet, filepath.Join(e.stateDir, "ipam"))
	if err != nil {
		return nil, fmt.Errorf("containerd: CNI: %w", err)
	}
	if err := e.net.guardEgress(opts.Node, firstNonEmpty(opts.Bridge, DefaultBridge), opts.BlockedEgress, e.log); err != nil {
		return nil, err
	}
	if opts.AllowMetadata {
		e.log.Warn("jobs may reach the cloud metadata endpoint (AllowMetadata)")
	} else if err := e.net.guardMetadata(e.log); err != nil {
		return nil, err
	}
	addr := opts.Address
	if addr == "" {
		addr = firstNonEmpty(os.Getenv("CONTAINERD_ADDRESS"), DefaultAddress)
	}
	c, err := ctrd.New(addr, ctrd.WithDefaultNamespace(e.ns), ctrd.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("containerd: connect to %s: %w: %w", addr, executors.ErrEngine, err)
	}
	e.client = c
	return e, nil
}

// Close tears down the warm network namespaces nobody took and releases
// the connection to containerd. It does not touch running Envs.
func (e *Executor) Close() error {
	e.drainWarm()
	e.net.egress.RemoveAll()
	return e.client.Close()
}

// withNS returns ctx in the executor's containerd namespace.
func (e *Executor) withNS(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, e.ns)
}

// claim registers jobID as owned by a live Env.
func (e *Executor) claim(jobID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.live[jobID]; ok {
		return fmt.Errorf("containerd: job %q already has a live environment", jobID)
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

// findInit returns the static init binary to bind-mount as PID 1: path
// when set, else docker-init or tini-static from PATH, with symlinks
// resolved; "" when none exists.
func findInit(path string) string {
	cands := []string{path}
	if path == "" {
		cands = []string{"docker-init", "tini-static"}
	}
	for _, c := range cands {
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
	}
	return ""
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// engineErr wraps an engine failure in executors.ErrEngine.
func engineErr(op string, err error) error {
	return fmt.Errorf("containerd: %s: %w: %w", op, executors.ErrEngine, err)
}
