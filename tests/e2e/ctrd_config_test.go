package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
)

// ctrdAgent is the config of an agent with one GitLab runner on the
// containerd executor, the job image never pulled. Zero fields take the
// shared test engine's values (ctrdNamespace, ctrdStateDir, ctrdBridge,
// ctrdSubnet, containerdAddress) and concurrency 1.
type ctrdAgent struct {
	name, url, token, node, metrics string
	// dir holds builds/ (and what extra names).
	dir               string
	concurrent, limit int
	// runner is more keys of [[runners]], TOML lines.
	runner                                       string
	address, namespace, stateDir, bridge, subnet string
	// containerd is more keys of [runners.containerd] (limits), one per
	// line; tables are more tables after it ([runners.cache]).
	containerd, tables []string
}

func (a ctrdAgent) config() string {
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	concurrent := max(a.concurrent, 1)
	var limit string
	if a.limit > 0 {
		limit = fmt.Sprintf("limit = %d\n", a.limit)
	}
	if a.runner != "" {
		limit += strings.TrimSuffix(a.runner, "\n") + "\n"
	}
	return fmt.Sprintf(`concurrent = %d
check_interval = 1
listen_address = %q
shutdown_timeout = 30
node_name = %q
log_level = "debug"
[[runners]]
name = %q
url = %q
token = %q
executor = "containerd"
%sbuilds_dir = %q
[runners.containerd]
address = %q
namespace = %q
state_dir = %q
bridge = %q
subnet = %q
image = %q
pull_policy = ["never"]
%s`, concurrent, a.metrics, a.node, a.name, a.url, a.token, limit, filepath.Join(a.dir, "builds"),
		or(a.address, containerdAddress()), or(a.namespace, ctrdNamespace), or(a.stateDir, ctrdStateDir),
		or(a.bridge, ctrdBridge), or(a.subnet, ctrdSubnet), testImage,
		strings.Join(append(append([]string{}, a.containerd...), a.tables...), "\n")+"\n")
}

// containerdAgentConfig is ctrdAgent's config with limit 1 in the
// namespace ns of the shared engine.
func containerdAgentConfig(name, url, tok, node, metrics, dir, ns string) string {
	return ctrdAgent{name: name, url: url, token: tok, node: node, metrics: metrics, dir: dir, limit: 1, namespace: ns}.config()
}
