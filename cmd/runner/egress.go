package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/runner/config"
)

// resolver finds a host's addresses (net.DefaultResolver in production).
type resolver func(ctx context.Context, host string) ([]netip.Addr, error)

func resolveHost(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// egressPolicy is what jobs must not reach besides the cloud metadata
// endpoint: the control plane's addresses ([fleet] url, resolved at
// start; loopback addresses need no rule), the agent's own listener (listen_address: its port, on every
// address of the node, unless it listens on loopback only, which no
// container reaches) and every runner's blocked_egress_cidrs.
func egressPolicy(ctx context.Context, cfg *config.Config, resolve resolver) ([]executors.EgressBlock, error) {
	var out []executors.EgressBlock
	seen := map[executors.EgressBlock]bool{}
	add := func(b executors.EgressBlock) {
		if !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	if cfg.Fleet.Enabled() {
		host := cfg.Fleet.URL.Hostname()
		addrs, err := resolve(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("job egress policy: resolve the control plane %s: %w", host, err)
		}
		for _, a := range addrs {
			if a = a.Unmap(); a.IsLoopback() {
				continue // no container reaches the node's loopback
			}
			add(executors.EgressBlock{Net: netip.PrefixFrom(a, a.BitLen()), Why: "control plane"})
		}
	}
	if cfg.ListenAddress != "" {
		host, p, err := net.SplitHostPort(cfg.ListenAddress)
		if err != nil {
			return nil, fmt.Errorf("job egress policy: listen_address %q: %w", cfg.ListenAddress, err)
		}
		port, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("job egress policy: listen_address %q: port: %w", cfg.ListenAddress, err)
		}
		if port != 0 && !loopbackOnly(host) {
			add(executors.EgressBlock{Net: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Port: uint16(port), Why: "agent listener"})
			add(executors.EgressBlock{Net: netip.PrefixFrom(netip.IPv6Unspecified(), 0), Port: uint16(port), Why: "agent listener"})
		}
	}
	for _, r := range cfg.Runners {
		for _, c := range r.Docker.BlockedEgressCIDRs {
			pfx, err := netip.ParsePrefix(c)
			if err != nil {
				return nil, fmt.Errorf("runner %s: blocked_egress_cidrs %q: %w", r.Name, c, err)
			}
			add(executors.EgressBlock{Net: pfx.Masked(), Why: "blocked_egress_cidrs"})
		}
	}
	return out, nil
}

// loopbackOnly reports whether a listen host accepts loopback traffic
// only: "localhost" or a loopback address.
func loopbackOnly(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
