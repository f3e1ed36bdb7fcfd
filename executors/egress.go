package executors

import (
	"errors"
	"net/netip"
)

// EgressBlock is a destination job containers must not reach, besides the
// cloud metadata endpoint that executors always block: the control
// plane, the agent's own listeners, networks the operator names. The
// block holds for traffic the node forwards (to other hosts) and for
// traffic to the node itself.
type EgressBlock struct {
	// Net is the destination network; a zero-bits prefix (0.0.0.0/0,
	// ::/0) with a Port blocks that port on every address.
	Net netip.Prefix
	// Port, when not 0, limits the block to that TCP port.
	Port uint16
	// Why names the block in the firewall rule's comment and the log,
	// e.g. "control plane".
	Why string
}

// ErrEgressGuard means a firewall rule of the job egress policy could not
// be installed.
var ErrEgressGuard = errors.New("cannot install the job egress policy")
