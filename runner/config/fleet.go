package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultFleetHeartbeat is the heartbeat period when neither the file nor
// the control plane says otherwise.
const DefaultFleetHeartbeat = 5 * time.Second

// FleetFile is [fleet]: the control plane this node joins.
type FleetFile struct {
	URL string `toml:"url"`
	// JoinTokenFile holds the fleet join token (or RUNFLEET_FLEET_JOIN_TOKEN).
	JoinTokenFile string `toml:"join_token_file,omitempty"`
	// NodeTokenFile is where the node token is kept (0600).
	NodeTokenFile string `toml:"node_token_file,omitempty"`
	ProviderID    string `toml:"provider_id,omitempty"`
	Pool          string `toml:"pool,omitempty"`
	Offering      string `toml:"offering,omitempty"`
	// HeartbeatInterval in seconds; the control plane's answer wins.
	HeartbeatInterval int `toml:"heartbeat_interval,omitempty"`
	// Identity is how the node proves which instance it is at
	// registration: "aws" (the EC2 instance identity document) or empty
	// (a bootstrap token from RUNFLEET_FLEET_BOOTSTRAP_TOKEN, set by the
	// docker provider).
	Identity string `toml:"identity,omitempty"`
	// IdentityEndpoint overrides the metadata service address ("aws").
	IdentityEndpoint string `toml:"identity_endpoint,omitempty"`
	// CAFile is the PEM CA bundle the fleet API's certificate is checked
	// against (https URLs); empty: the system roots.
	CAFile string `toml:"ca_file,omitempty"`
	// ClientCertFile and ClientKeyFile are the node's certificate for a
	// control plane that requires mutual TLS.
	ClientCertFile string `toml:"client_cert_file,omitempty"`
	ClientKeyFile  string `toml:"client_key_file,omitempty"`

	joinToken      string // from the environment only; never written back
	bootstrapToken string // from the environment only; never written back
}

// Fleet is the typed [fleet] section; URL nil means no fleet.
type Fleet struct {
	URL               *url.URL
	JoinToken         string
	NodeTokenFile     string
	ProviderID        string
	Pool              string
	Offering          string
	HeartbeatInterval time.Duration
	BootstrapToken    string
	Identity          string
	IdentityEndpoint  string
	CAFile            string
	ClientCertFile    string
	ClientKeyFile     string
}

// Enabled reports whether the agent joins a fleet.
func (f Fleet) Enabled() bool { return f.URL != nil }

// fleetOverrides are the RUNFLEET_FLEET_* environment variables.
var fleetOverrides = []envOverride{
	{"RUNFLEET_FLEET_URL", fleetSetter(func(fl *FleetFile, v string) { fl.URL = v })},
	{"RUNFLEET_FLEET_JOIN_TOKEN", fleetSetter(func(fl *FleetFile, v string) { fl.joinToken = v })},
	{"RUNFLEET_FLEET_JOIN_TOKEN_FILE", fleetSetter(func(fl *FleetFile, v string) { fl.JoinTokenFile = v })},
	{"RUNFLEET_FLEET_BOOTSTRAP_TOKEN", fleetSetter(func(fl *FleetFile, v string) { fl.bootstrapToken = v })},
	{"RUNFLEET_FLEET_CA_FILE", fleetSetter(func(fl *FleetFile, v string) { fl.CAFile = v })},
	{"RUNFLEET_FLEET_NODE_TOKEN_FILE", fleetSetter(func(fl *FleetFile, v string) { fl.NodeTokenFile = v })},
	{"RUNFLEET_FLEET_PROVIDER_ID", fleetSetter(func(fl *FleetFile, v string) { fl.ProviderID = v })},
	{"RUNFLEET_FLEET_POOL", fleetSetter(func(fl *FleetFile, v string) { fl.Pool = v })},
	{"RUNFLEET_FLEET_OFFERING", fleetSetter(func(fl *FleetFile, v string) { fl.Offering = v })},
}

func fleetSetter(set func(*FleetFile, string)) func(*File, string) error {
	return func(f *File, v string) error {
		if f.Fleet == nil {
			f.Fleet = &FleetFile{}
		}
		set(f.Fleet, v)
		return nil
	}
}

// fleetFromFile validates [fleet]; node is the node name (the default
// provider id).
func fleetFromFile(ff *FleetFile, node string) (Fleet, error) {
	if ff == nil || ff.URL == "" {
		return Fleet{}, nil
	}
	u, err := url.Parse(ff.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Fleet{}, fmt.Errorf("[fleet] url %q: want http(s)://host[:port]", ff.URL)
	}
	fl := Fleet{URL: u, JoinToken: ff.joinToken, NodeTokenFile: ff.NodeTokenFile, ProviderID: ff.ProviderID,
		Pool: ff.Pool, Offering: ff.Offering, HeartbeatInterval: time.Duration(ff.HeartbeatInterval) * time.Second,
		BootstrapToken: ff.bootstrapToken, Identity: ff.Identity, IdentityEndpoint: ff.IdentityEndpoint,
		CAFile: ff.CAFile, ClientCertFile: ff.ClientCertFile, ClientKeyFile: ff.ClientKeyFile}
	if fl.Identity != "" && fl.Identity != "aws" {
		return fl, fmt.Errorf("[fleet] identity %q: want \"aws\" or empty", fl.Identity)
	}
	if (fl.ClientCertFile == "") != (fl.ClientKeyFile == "") {
		return fl, errors.New("[fleet] client_cert_file and client_key_file go together")
	}
	if fl.JoinToken == "" && ff.JoinTokenFile != "" {
		b, err := os.ReadFile(ff.JoinTokenFile)
		if err != nil {
			return fl, fmt.Errorf("[fleet] join_token_file: %w", err)
		}
		fl.JoinToken = strings.TrimSpace(string(b))
	}
	if fl.JoinToken == "" {
		return fl, errors.New("[fleet] needs a join token: join_token_file or RUNFLEET_FLEET_JOIN_TOKEN")
	}
	if fl.NodeTokenFile == "" {
		fl.NodeTokenFile = "/var/lib/runfleet/fleet-node-token"
	}
	if !filepath.IsAbs(fl.NodeTokenFile) {
		return fl, fmt.Errorf("[fleet] node_token_file %q must be absolute", fl.NodeTokenFile)
	}
	if fl.ProviderID == "" {
		fl.ProviderID = node
	}
	if fl.HeartbeatInterval <= 0 {
		fl.HeartbeatInterval = DefaultFleetHeartbeat
	}
	return fl, nil
}

// allOverrides is every environment override, [fleet]'s last.
func allOverrides() []envOverride {
	return append(overrides[:len(overrides):len(overrides)], fleetOverrides...)
}
