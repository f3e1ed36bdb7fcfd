package containerd

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hostEntry maps an address to names in /etc/hosts.
type hostEntry struct {
	ip    string
	names []string
}

// hostsFile renders /etc/hosts: loopback, the container's own name, the
// job's services by alias, then the spec's "name:ip" extra hosts.
func hostsFile(self hostEntry, peers []hostEntry, extra []string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, e := range append([]hostEntry{self}, peers...) {
		if e.ip == "" || len(e.names) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s\t%s\n", e.ip, strings.Join(e.names, " "))
	}
	for _, h := range extra {
		name, ip, ok := strings.Cut(h, ":")
		if !ok || name == "" || net.ParseIP(ip) == nil {
			return nil, fmt.Errorf("extra host %q: want name:ip", h)
		}
		fmt.Fprintf(&b, "%s\t%s\n", ip, name)
	}
	return b.Bytes(), nil
}

// resolvConf returns the host's resolver configuration without loopback
// nameservers (unreachable from a job's network namespace).
func resolvConf(host []byte) []byte {
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip != nil && ip.IsLoopback() {
				continue
			}
		}
		b.WriteString(line + "\n")
	}
	return b.Bytes()
}

// etcMounts writes hosts and resolv.conf for one container as
// dir/<name>.hosts and dir/resolv.conf and returns their bind mounts.
func etcMounts(dir, name string, hosts []byte) ([]specs.Mount, error) {
	hp := fmt.Sprintf("%s/%s.hosts", dir, name)
	if err := os.WriteFile(hp, hosts, 0o644); err != nil {
		return nil, err
	}
	rp := dir + "/resolv.conf"
	if _, err := os.Stat(rp); err != nil {
		host, _ := os.ReadFile("/etc/resolv.conf") // none is fine: no DNS
		if err := os.WriteFile(rp, resolvConf(host), 0o644); err != nil {
			return nil, err
		}
	}
	return []specs.Mount{
		{Type: "bind", Source: hp, Destination: "/etc/hosts", Options: []string{"rbind", "rw"}},
		{Type: "bind", Source: rp, Destination: "/etc/resolv.conf", Options: []string{"rbind", "ro"}},
	}, nil
}
