package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/runfleet/runfleet/autoscaler/fleetapi/serve"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// fileConfig is the control plane's TOML file as written.
type fileConfig struct {
	Fleet             string        `toml:"fleet"`
	ListenAddress     string        `toml:"listen_address"`
	AdminAddress      string        `toml:"admin_address"`
	FleetURL          string        `toml:"fleet_url"`
	JoinTokenFile     string        `toml:"join_token_file"`
	AdminTokenFile    string        `toml:"admin_token_file"`
	DrainTimeout      time.Duration `toml:"drain_timeout"`
	DrainHardLimit    time.Duration `toml:"drain_hard_limit"`
	Store             string        `toml:"store"`
	ReconcileInterval time.Duration `toml:"reconcile_interval"`
	HeartbeatInterval time.Duration `toml:"heartbeat_interval"`
	HeartbeatGrace    time.Duration `toml:"heartbeat_grace"`
	BootTimeout       time.Duration `toml:"boot_timeout"`
	FailureTTL        time.Duration `toml:"failure_ttl"`
	Provider          providerFile  `toml:"provider"`
	Pools             []poolFile    `toml:"pools"`
	Demand            demandFile    `toml:"demand"`
	TLS               tlsFile       `toml:"tls"`
	// InsecurePlaintext allows clear text on a non-loopback address
	// without [tls]: tokens then cross the network unencrypted. Logged
	// loudly at start; for a private network being moved to TLS only.
	InsecurePlaintext bool `toml:"insecure_plaintext"`
	// MaxConnections caps the fleet API's open connections (each node
	// keeps one; default DefaultMaxConnections).
	MaxConnections int `toml:"max_connections"`
	// GitHubJIT: nodes' GitHub runners are minted here (githubjit.go).
	GitHubJIT *githubJITFile `toml:"github_jit"`
}

// tlsFile is [tls]: the certificate both listeners serve, and the CA
// whose certificates nodes must present on the fleet API (mutual TLS;
// empty: nodes authenticate by token only).
type tlsFile struct {
	CertFile     string `toml:"cert_file"`
	KeyFile      string `toml:"key_file"`
	ClientCAFile string `toml:"client_ca_file"`
}

type providerFile struct {
	Type   string             `toml:"type"` // docker | aws
	Docker dockerProviderFile `toml:"docker"`
	AWS    awsProviderFile    `toml:"aws"`
}

type dockerProviderFile struct {
	Host       string `toml:"host"`
	Image      string `toml:"image"`
	NodeConfig string `toml:"node_config"` // path of the agent config.toml given to nodes
	StateDir   string `toml:"state_dir"`
	Socket     string `toml:"socket"`
	Slots      int    `toml:"slots"`
	MaxNodes   int    `toml:"max_nodes"`
	// AllowHostDockerSocket must be true: node containers get the host
	// engine's socket (root on the host), so the docker provider is for
	// a development box, listening on loopback only.
	AllowHostDockerSocket bool `toml:"allow_host_docker_socket"`
	// FleetCAFile is the CA nodes trust for the fleet API (with [tls]).
	FleetCAFile string `toml:"fleet_ca_file"`
}

type poolFile struct {
	Name           string        `toml:"name"`
	Labels         []string      `toml:"labels"`
	SlotsPerNode   int           `toml:"slots_per_node"`
	MinNodes       int           `toml:"min_nodes"`
	MaxNodes       int           `toml:"max_nodes"`
	MinIdleSlots   int           `toml:"min_idle_slots"`
	ScaleFactor    float64       `toml:"scale_factor"`
	MaxIdleSlots   int           `toml:"max_idle_slots"`
	ScaleDownDelay time.Duration `toml:"scale_down_delay"`
	// IdleRisk, in [0, 1): the idle buffer (and a warm pool's size) also
	// follows the rate of jobs that arrive with no earlier signal, so that
	// one finds no free slot within a boot with at most this probability
	// (policy.Pool.IdleRisk; 0: off).
	IdleRisk     float64        `toml:"idle_risk"`
	OnDemandBase int            `toml:"on_demand_base"`
	Offerings    []offeringFile `toml:"offerings"`
	Periods      []periodFile   `toml:"periods"`
	// BootTime and WarmStartTime are the forecast horizons: how long a
	// cold launch and a warm start take to give a ready node.
	BootTime       time.Duration `toml:"boot_time"`
	WarmStartTime  time.Duration `toml:"warm_start_time"`
	MaxJobsPerNode int           `toml:"max_jobs_per_node"`
	// AllowPrivileged: privileged job containers (Docker-in-Docker);
	// loudly warned about unless max_jobs_per_node = 1.
	AllowPrivileged bool          `toml:"allow_privileged"`
	WarmPool        *warmPoolFile `toml:"warm_pool"`
}

// warmPoolFile is a pool's [pools.warm_pool].
type warmPoolFile struct {
	MinSize        int    `toml:"min_size"`
	MaxSize        int    `toml:"max_size"`
	InstanceState  string `toml:"instance_state"`
	ReuseOnScaleIn bool   `toml:"reuse_on_scale_in"`
	// Offering warm nodes run on; default: the pool's cheapest on-demand
	// offering (warm pools take no Spot).
	Offering *offeringFile `toml:"offering"`
}

// warmPool converts a [pools.warm_pool] for pool p.
func (w *warmPoolFile) warmPool(p policy.Pool) *policy.WarmPool {
	if w == nil {
		return nil
	}
	wp := &policy.WarmPool{MinSize: w.MinSize, MaxSize: w.MaxSize, State: policy.WarmState(w.InstanceState), ReuseOnScaleIn: w.ReuseOnScaleIn}
	if wp.State == "" {
		wp.State = policy.WarmStopped
	}
	if w.Offering != nil {
		wp.Offering = policy.Offering(*w.Offering)
		return wp
	}
	for _, o := range p.Offerings {
		if !o.Spot && (wp.Offering.InstanceType == "" || o.PricePerHour < wp.Offering.PricePerHour) {
			wp.Offering = o
		}
	}
	return wp
}

type offeringFile struct {
	InstanceType string  `toml:"instance_type"`
	Zone         string  `toml:"zone"`
	Spot         bool    `toml:"spot"`
	PricePerHour float64 `toml:"price_per_hour"`
}

type periodFile struct {
	Cron         string        `toml:"cron"`
	Duration     time.Duration `toml:"duration"`
	MinIdleSlots int           `toml:"min_idle_slots"`
}

type demandFile struct {
	GitLab []gitlabDemandFile `toml:"gitlab"`
	GitHub *githubDemandFile  `toml:"github"`
}

// config is the typed runtime configuration.
type config struct {
	Fleet             string
	ListenAddress     string
	AdminAddress      string
	FleetURL          string
	JoinToken         string
	AdminToken        string
	DrainTimeout      time.Duration
	DrainHardLimit    time.Duration
	Store             string
	ReconcileInterval time.Duration
	HeartbeatInterval time.Duration
	HeartbeatGrace    time.Duration
	BootTimeout       time.Duration
	Policy            policy.Policy
	Provider          providerFile
	NodeConfig        []byte
	Pools             []policy.Pool
	GitLab            []gitlabDemand
	GitHub            *githubDemand
	GitHubJIT         *githubJIT
	AWS               awsProvider
	// DockerFleetCA is [provider.docker] fleet_ca_file's content.
	DockerFleetCA []byte
	// FleetTLS and AdminTLS are nil when [tls] is not set (loopback only).
	FleetTLS       *tls.Config
	AdminTLS       *tls.Config
	MaxConnections int
	// Plaintext lists the non-loopback addresses served in clear text
	// (insecure_plaintext), warned about at start.
	Plaintext []string
}

// DefaultMaxConnections is the fleet API's connection cap: one keep-alive
// connection per node of a 10,000-node fleet.
const DefaultMaxConnections = 10000

func readSecret(what, path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%s is required", what)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s %s is empty", what, path)
	}
	return s, nil
}

// loadConfig reads, defaults and validates the file at path; unknown keys
// are an error.
func loadConfig(path string) (*config, error) {
	var f fileConfig
	md, err := toml.DecodeFile(path, &f)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	c := &config{
		Fleet: f.Fleet, ListenAddress: f.ListenAddress, AdminAddress: f.AdminAddress, FleetURL: f.FleetURL,
		Store: f.Store, ReconcileInterval: f.ReconcileInterval, HeartbeatInterval: f.HeartbeatInterval,
		HeartbeatGrace: f.HeartbeatGrace, BootTimeout: f.BootTimeout, Policy: policy.Policy{FailureTTL: f.FailureTTL},
		Provider: f.Provider, DrainTimeout: f.DrainTimeout, DrainHardLimit: f.DrainHardLimit,
	}
	if c.Fleet == "" {
		c.Fleet = "default"
	}
	if c.ListenAddress == "" {
		c.ListenAddress = "127.0.0.1:8780"
	}
	if c.AdminAddress == "" {
		c.AdminAddress = "127.0.0.1:8781"
	}
	var errs []error
	if f.TLS != (tlsFile{}) {
		if c.FleetTLS, err = serve.TLSConfig(f.TLS.CertFile, f.TLS.KeyFile, f.TLS.ClientCAFile); err != nil {
			errs = append(errs, fmt.Errorf("[tls] %w", err))
		} else {
			// The admin listener serves the same certificate; its clients
			// (status, cordon, drain) authenticate with the admin token.
			c.AdminTLS = c.FleetTLS.Clone()
			c.AdminTLS.ClientAuth, c.AdminTLS.ClientCAs = tls.NoClientCert, nil
		}
	}
	for _, l := range []struct{ key, addr string }{{"listen_address", c.ListenAddress}, {"admin_address", c.AdminAddress}} {
		switch {
		case f.TLS != (tlsFile{}) || serve.Loopback(l.addr):
		case f.InsecurePlaintext:
			c.Plaintext = append(c.Plaintext, l.addr)
		default:
			errs = append(errs, fmt.Errorf("%s %s is not a loopback address: the fleet serves no clear text off this host; set [tls] cert_file and key_file (or listen on 127.0.0.1)", l.key, l.addr))
		}
	}
	c.MaxConnections = f.MaxConnections
	if c.MaxConnections <= 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.FleetURL == "" {
		scheme := "http://"
		if f.TLS != (tlsFile{}) {
			scheme = "https://"
		}
		c.FleetURL = scheme + c.ListenAddress
	}
	if c.Store == "" {
		c.Store = "/var/lib/runfleet/autoscaler.db"
	}
	if c.JoinToken, err = readSecret("join_token_file", f.JoinTokenFile); err != nil {
		errs = append(errs, err)
	}
	if f.AdminTokenFile != "" {
		if c.AdminToken, err = readSecret("admin_token_file", f.AdminTokenFile); err != nil {
			errs = append(errs, err)
		}
	}
	if c.DrainTimeout < 0 || c.DrainHardLimit < 0 || (c.DrainHardLimit > 0 && c.DrainHardLimit < c.DrainTimeout) {
		errs = append(errs, fmt.Errorf("drain_timeout %s / drain_hard_limit %s: want 0 ≤ drain_timeout ≤ drain_hard_limit", c.DrainTimeout, c.DrainHardLimit))
	}
	switch c.Provider.Type {
	case "docker":
		d := c.Provider.Docker
		if !d.AllowHostDockerSocket {
			errs = append(errs, errors.New("[provider.docker] allow_host_docker_socket = true is required: node containers get the host engine's socket, which is root on this host (development and demos only)"))
		}
		for _, l := range []struct{ key, addr string }{{"listen_address", c.ListenAddress}, {"admin_address", c.AdminAddress}} {
			if !serve.Loopback(l.addr) {
				errs = append(errs, fmt.Errorf("[provider.docker] %s %s: the docker provider listens on loopback only", l.key, l.addr))
			}
		}
		if d.FleetCAFile != "" {
			if c.DockerFleetCA, err = os.ReadFile(d.FleetCAFile); err != nil {
				errs = append(errs, fmt.Errorf("[provider.docker] fleet_ca_file: %w", err))
			}
		}
		if d.StateDir == "" || !filepath.IsAbs(d.StateDir) {
			errs = append(errs, fmt.Errorf("[provider.docker] state_dir %q must be an absolute path", d.StateDir))
		}
		if d.NodeConfig == "" {
			errs = append(errs, errors.New("[provider.docker] node_config (the agent config.toml for nodes) is required"))
		} else if c.NodeConfig, err = os.ReadFile(d.NodeConfig); err != nil {
			errs = append(errs, fmt.Errorf("[provider.docker] node_config: %w", err))
		}
	case "aws":
		// Checked after the pools are known (awsConfig).
	default:
		errs = append(errs, fmt.Errorf("[provider] type %q: want docker or aws", c.Provider.Type))
	}
	if len(f.Pools) == 0 {
		errs = append(errs, errors.New("at least one [[pools]] is required"))
	}
	for _, pf := range f.Pools {
		p := policy.Pool{
			Name: pf.Name, Labels: pf.Labels, SlotsPerNode: pf.SlotsPerNode, MinNodes: pf.MinNodes, MaxNodes: pf.MaxNodes,
			MinIdleSlots: pf.MinIdleSlots, ScaleFactor: pf.ScaleFactor, MaxIdleSlots: pf.MaxIdleSlots,
			ScaleDownDelay: pf.ScaleDownDelay, IdleRisk: pf.IdleRisk, OnDemandBase: pf.OnDemandBase,
			BootTime: pf.BootTime, WarmStartTime: pf.WarmStartTime, MaxJobsPerNode: pf.MaxJobsPerNode,
			AllowPrivileged: pf.AllowPrivileged,
		}
		for _, o := range pf.Offerings {
			p.Offerings = append(p.Offerings, policy.Offering(o))
		}
		if len(p.Offerings) == 0 && c.Provider.Type == "docker" {
			p.Offerings = []policy.Offering{{InstanceType: "container", Zone: "local"}}
		}
		for _, per := range pf.Periods {
			p.Periods = append(p.Periods, policy.Period(per))
		}
		p.WarmPool = pf.WarmPool.warmPool(p)
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
		}
		c.Pools = append(c.Pools, p)
	}
	for i, g := range f.Demand.GitLab {
		gd, err := gitlabConfig(i, g) // gitlab.go
		if err != nil {
			errs = append(errs, err)
		}
		c.GitLab = append(c.GitLab, gd)
	}
	if c.Provider.Type == "aws" {
		if c.AWS, err = awsConfig(f.Provider.AWS, c.Pools); err != nil {
			errs = append(errs, err)
		}
	}
	if f.Demand.GitHub != nil {
		if c.GitHub, err = githubConfig(*f.Demand.GitHub); err != nil {
			errs = append(errs, err)
		}
	}
	if f.GitHubJIT != nil {
		if c.GitHubJIT, err = githubJITConfig(*f.GitHubJIT, c.Pools); err != nil { // githubjit.go
			errs = append(errs, err)
		}
	}
	errs = append(errs, hookPathsError(c)) // gitlab.go
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}
