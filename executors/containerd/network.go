package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/pkg/netns"
	gocni "github.com/containerd/go-cni"
	"golang.org/x/sys/unix"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/internal/egress"
)

// cniNetworkName names the CNI network of job networks (IPAM state and
// cached results are kept under it).
const cniNetworkName = "runfleet"

// adminChain is the iptables chain the firewall plugin consults before
// accepting a job's traffic: it holds the metadata-endpoint rule.
const adminChain = "RUNFLEET-ADMIN"

// metadataEndpoint is the cloud instance metadata address jobs must never
// reach: it hands out the node's cloud credentials. Job networks are
// IPv4-only, so fd00:ec2::254 is unreachable from them already.
const metadataEndpoint = "169.254.169.254/32"

// abortTimeout bounds the teardown of a namespace whose setup failed.
const abortTimeout = 30 * time.Second

// ErrMetadataGuard means the firewall rule that keeps jobs away from the
// cloud metadata endpoint could not be installed.
var ErrMetadataGuard = errors.New("cannot block the cloud metadata endpoint for jobs")

// networks sets up and tears down the network namespaces of jobs and
// services with CNI: the bridge network (with loopback) for per-job
// networks, loopback only for NetworkNone.
type networks struct {
	bridge gocni.CNI // bridge + host-local + firewall, then loopback
	lo     gocni.CNI // loopback only
	conf   []byte    // the generated bridge conflist
	// egress is the egress rules guardEgress inserted (removed by close).
	egress egress.Installed
}

// bridgeConfList returns the CNI conflist of job networks: one bridge
// for all jobs (isolation between jobs is by the firewall plugin and
// addresses are unique), NAT for egress, and the firewall plugin, which
// accepts the jobs' forwarded traffic after consulting adminChain.
func bridgeConfList(bridge, subnet, ipamDir string) ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       cniNetworkName,
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      bridge,
				"isGateway":   true,
				"ipMasq":      true,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": subnet}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": ipamDir,
				},
			},
			map[string]any{
				"type":                   "firewall",
				"backend":                "iptables",
				"iptablesAdminChainName": adminChain,
			},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// newNetworks loads the CNI configurations.
func newNetworks(pluginDirs []string, bridge, subnet, ipamDir string) (*networks, error) {
	conf, err := bridgeConfList(bridge, subnet, ipamDir)
	if err != nil {
		return nil, err
	}
	br, err := gocni.New(gocni.WithPluginDir(pluginDirs), gocni.WithMinNetworkCount(2),
		gocni.WithConfListBytes(conf), gocni.WithLoNetwork)
	if err != nil {
		return nil, fmt.Errorf("bridge network: %w", err)
	}
	lo, err := gocni.New(gocni.WithPluginDir(pluginDirs), gocni.WithMinNetworkCount(1), gocni.WithLoNetwork)
	if err != nil {
		return nil, fmt.Errorf("loopback network: %w", err)
	}
	return &networks{bridge: br, lo: lo, conf: conf}, nil
}

// ensureAdminChain creates adminChain unless it exists.
func (n *networks) ensureAdminChain() error {
	if exec.Command("iptables", "-w", "-n", "-L", adminChain).Run() == nil {
		return nil
	}
	if out, err := exec.Command("iptables", "-w", "-N", adminChain).CombinedOutput(); err != nil {
		return fmt.Errorf("iptables -N %s: %v: %s", adminChain, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// guardMetadata installs, once and idempotently, a REJECT rule for the
// metadata endpoint in adminChain, which the firewall plugin jumps to for
// every job's forwarded traffic.
func (n *networks) guardMetadata(log *slog.Logger) error {
	if err := n.ensureAdminChain(); err != nil {
		return fmt.Errorf("%w: %w", ErrMetadataGuard, err)
	}
	rule := []string{adminChain, "-d", metadataEndpoint, "-j", "REJECT",
		"-m", "comment", "--comment", "runfleet: no cloud metadata for jobs"}
	inserted, err := egress.EnsureRule("iptables", rule)
	if err != nil {
		return fmt.Errorf("%w: %v (run the agent as root, or set AllowMetadata knowingly)", ErrMetadataGuard, err)
	}
	if inserted {
		log.Info("jobs cannot reach the cloud metadata endpoint", "address", metadataEndpoint)
	}
	return nil
}

// guardEgress installs the REJECT rules of the job egress policy: in
// adminChain for what the node forwards, and in INPUT (for traffic
// entering on the job bridge) for what is addressed to the node itself.
// The rules carry the scope of node and bridge: the ones a killed
// instance of the same scope left are removed once the fresh ones are
// in, and other agents' rules stay. Job networks are IPv4-only, so IPv6
// blocks need no rule.
func (n *networks) guardEgress(node, bridge string, blocks []executors.EgressBlock, log *slog.Logger) error {
	n.egress.Scope = egress.Scope(node, bridge)
	n.egress.FindStale("iptables", adminChain, "INPUT")
	defer n.egress.RemoveStale()
	for _, b := range blocks {
		if b.Net.Addr().Is6() {
			continue
		}
		if err := n.ensureAdminChain(); err != nil {
			return err
		}
		for _, r := range [][]string{egress.Rule(n.egress.Scope, adminChain, "", b), egress.Rule(n.egress.Scope, "INPUT", bridge, b)} {
			if err := n.egress.Ensure("iptables", r); err != nil {
				return err
			}
		}
		log.Info("jobs cannot reach "+b.Why, "network", b.Net.String(), "port", b.Port)
	}
	return nil
}

// jobNet is one container's network namespace: a directory holding the
// bind-mounted namespace file, whose name is the CNI container ID, and
// a marker saying whether the bridge network was attached.
type jobNet struct {
	dir    string // StateDir/<node>/<job>/net-<name>
	path   string // the netns file inside dir
	bridge bool   // attached to the bridge network (else loopback only)
	ip     net.IP // the container's address on the bridge
}

// cniID is the CNI container ID of the namespace in dir: unique on the
// host because dir is.
func cniID(dir string) string {
	return "runfleet-" + strings.ReplaceAll(strings.TrimPrefix(filepath.ToSlash(dir), "/"), "/", "_")
}

// setup creates a network namespace under dir and attaches it to the
// bridge network, or to loopback only. On error it removes what it made.
func (n *networks) setup(ctx context.Context, dir string, bridge bool) (*jobNet, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	marker := filepath.Join(dir, "bridge")
	if bridge {
		// Written first, so a crash mid-setup is still torn down by Reap.
		if err := os.WriteFile(marker, nil, 0o600); err != nil {
			return nil, err
		}
	}
	ns, err := netns.NewNetNS(dir)
	if err != nil {
		return nil, fmt.Errorf("create network namespace: %w", err)
	}
	jn := &jobNet{dir: dir, path: ns.GetPath(), bridge: bridge}
	cni := n.lo
	if bridge {
		cni = n.bridge
	}
	res, err := cni.Setup(ctx, cniID(dir), jn.path)
	if err != nil {
		return nil, n.abort(ctx, dir, fmt.Errorf("CNI setup: %w", err))
	}
	if bridge {
		for name, iface := range res.Interfaces {
			if name == "lo" || iface.Sandbox == "" {
				continue
			}
			for _, ipc := range iface.IPConfigs {
				if ipc.IP.To4() != nil {
					jn.ip = ipc.IP
				}
			}
		}
		if jn.ip == nil {
			return nil, n.abort(ctx, dir, errors.New("CNI gave the container no IPv4 address"))
		}
	}
	return jn, nil
}

// abort tears down a half set up namespace and returns err with any
// teardown failure.
func (n *networks) abort(ctx context.Context, dir string, err error) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	return errors.Join(err, n.teardown(cctx, dir))
}

// detach runs CNI DEL for the namespace at path (empty when it is gone).
// For the bridge network a second, namespace-less DEL follows: go-cni
// hides "not found" failures of the first, after which the address and
// firewall rules would stay reserved; plugins release them without a
// namespace, and DEL is idempotent.
func (n *networks) detach(ctx context.Context, dir, path string, bridge bool) error {
	if !bridge {
		if err := n.lo.Remove(ctx, cniID(dir), path); err != nil {
			return fmt.Errorf("CNI teardown of %s: %w", dir, err)
		}
		return nil
	}
	if err := n.bridge.Remove(ctx, cniID(dir), path); err != nil {
		return fmt.Errorf("CNI teardown of %s: %w", dir, err)
	}
	if path == "" {
		return nil
	}
	if err := n.bridge.Remove(ctx, cniID(dir), ""); err != nil {
		return fmt.Errorf("CNI teardown of %s: %w", dir, err)
	}
	return nil
}

// isNetNS reports whether path is a mounted network namespace (nsfs).
func isNetNS(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// teardown detaches and removes the network namespace(s) in dir, then dir
// itself. Missing pieces are fine: it also cleans up after a crash.
func (n *networks) teardown(ctx context.Context, dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	_, statErr := os.Stat(filepath.Join(dir, "bridge"))
	bridge := statErr == nil
	var errs []error
	for _, de := range entries {
		if de.IsDir() || de.Name() == "bridge" {
			continue
		}
		path := filepath.Join(dir, de.Name())
		ns := path
		if !isNetNS(path) {
			// A namespace file without its namespace mounted: a setup or
			// a removal killed halfway. The namespace (and its end of the
			// veth) is gone; CNI releases the address without it.
			ns = ""
		}
		if err := n.detach(ctx, dir, ns, bridge); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := netns.LoadNetNS(path).Remove(); err != nil {
			errs = append(errs, fmt.Errorf("remove network namespace %s: %w", path, err))
		}
	}
	if len(entries) == 0 || (len(entries) == 1 && bridge) {
		// Setup died before the namespace existed: release the address
		// CNI may have reserved under this ID.
		if err := n.detach(ctx, dir, "", bridge); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}
