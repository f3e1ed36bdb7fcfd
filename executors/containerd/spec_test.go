package containerd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runfleet/runfleet/executors"
)

// genSpec applies cfg's options to containerd's default spec.
func genSpec(t *testing.T, cfg containerConfig) *oci.Spec {
	t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), "unit")
	s, err := oci.GenerateSpec(ctx, nil, &containers.Container{ID: "c1"}, cfg.specOpts()...)
	if err != nil {
		t.Fatalf("GenerateSpec: %v", err)
	}
	return s
}

func mountAt(s *oci.Spec, dest string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dest {
			return &s.Mounts[i]
		}
	}
	return nil
}

func TestSpecUnprivileged(t *testing.T) {
	s := genSpec(t, containerConfig{
		args:      []string{"/bin/sh", "-c", keeperScript},
		env:       []string{"A=1"},
		cwd:       "/work",
		hostname:  "job1",
		netnsPath: "/state/net-job/ns",
		initPath:  "/usr/bin/tini-static",
		extraCaps: []string{"net_raw"},
		resources: executors.Resources{NanoCPUs: 1_500_000_000, Memory: 64 << 20, PidsLimit: 64, ShmSize: 32 << 20},
		readOnly:  true,
	})
	p := s.Process
	if want := []string{initTarget, "--", "/bin/sh", "-c", keeperScript}; !slices.Equal(p.Args, want) {
		t.Errorf("args %q, want %q", p.Args, want)
	}
	if !slices.Contains(p.Env, "A=1") || p.Cwd != "/work" || s.Hostname != "job1" {
		t.Errorf("env %q cwd %q hostname %q", p.Env, p.Cwd, s.Hostname)
	}
	if !p.NoNewPrivileges {
		t.Error("no-new-privileges not set")
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno {
		t.Errorf("default seccomp profile missing: %+v", s.Linux.Seccomp)
	}
	caps := p.Capabilities
	for _, set := range [][]string{caps.Bounding, caps.Effective, caps.Permitted} {
		if slices.Contains(set, "CAP_SYS_ADMIN") || slices.Contains(set, "CAP_MKNOD") || !slices.Contains(set, "CAP_NET_RAW") || !slices.Contains(set, "CAP_CHOWN") {
			t.Errorf("capability set %q", set)
		}
	}
	if len(caps.Ambient) != 0 {
		t.Errorf("ambient caps %q", caps.Ambient)
	}
	if len(s.Linux.MaskedPaths) == 0 || len(s.Linux.ReadonlyPaths) == 0 {
		t.Error("masked/readonly paths dropped")
	}
	if !s.Root.Readonly {
		t.Error("rootfs not read-only")
	}
	r := s.Linux.Resources
	if *r.CPU.Quota != 150_000 || *r.CPU.Period != cfsPeriod {
		t.Errorf("cpu quota %d period %d", *r.CPU.Quota, *r.CPU.Period)
	}
	if *r.Memory.Limit != 64<<20 || *r.Memory.Swap != 64<<20 {
		t.Errorf("memory %d swap %d, want both 64MiB (no swap)", *r.Memory.Limit, *r.Memory.Swap)
	}
	if r.Pids == nil || *r.Pids.Limit != 64 {
		t.Errorf("pids %+v", r.Pids)
	}
	if m := mountAt(s, "/dev/shm"); m == nil || !slices.Contains(m.Options, "size=32768k") {
		t.Errorf("/dev/shm mount %+v", m)
	}
	if m := mountAt(s, initTarget); m == nil || m.Source != "/usr/bin/tini-static" || !slices.Contains(m.Options, "ro") {
		t.Errorf("init mount %+v", m)
	}
	if m := mountAt(s, "/sys/fs/cgroup"); m == nil || !slices.Contains(m.Options, "ro") {
		t.Errorf("cgroup mount %+v", m)
	}
	var netns string
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			netns = ns.Path
		}
	}
	if netns != "/state/net-job/ns" {
		t.Errorf("network namespace %q", netns)
	}
}

func TestSpecPrivileged(t *testing.T) {
	s := genSpec(t, containerConfig{args: []string{"sh"}, hostname: "h", privileged: true})
	if !slices.Contains(s.Process.Capabilities.Effective, "CAP_SYS_ADMIN") {
		t.Error("privileged container lacks CAP_SYS_ADMIN")
	}
	if s.Linux.Seccomp != nil || len(s.Linux.MaskedPaths) != 0 {
		t.Error("privileged container still confined")
	}
	if m := mountAt(s, initTarget); m != nil {
		t.Errorf("init mounted without an init path: %+v", m)
	}
}

func TestResourceOpts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		r         executors.Resources
		mem, swap int64 // 0 = unset
	}{
		{"none", executors.Resources{}, 0, 0},
		{"swap same as memory", executors.Resources{Memory: 100}, 100, 100},
		{"unlimited swap", executors.Resources{Memory: 100, MemorySwap: -1}, 100, -1},
		{"explicit swap", executors.Resources{Memory: 100, MemorySwap: 300}, 100, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := genSpec(t, containerConfig{args: []string{"sh"}, resources: tc.r})
			m := s.Linux.Resources.Memory
			if tc.mem == 0 {
				if m != nil && m.Limit != nil {
					t.Errorf("memory limit set: %d", *m.Limit)
				}
				return
			}
			if m == nil || *m.Limit != tc.mem || *m.Swap != tc.swap {
				t.Errorf("memory %+v, want limit %d swap %d", m, tc.mem, tc.swap)
			}
		})
	}
}

func TestArgs(t *testing.T) {
	img := []string{"/entry"}
	cmd := []string{"run", "x"}
	for _, tc := range []struct {
		name string
		got  []string
		want []string
	}{
		{"job keeper", jobArgs(executors.Image{}), []string{"/bin/sh", "-c", keeperScript}},
		{"job entrypoint", jobArgs(executors.Image{Entrypoint: []string{"/e"}, Command: []string{"a"}}), []string{"/e", "a"}},
		{"service image", serviceArgs(executors.Image{}, img, cmd), []string{"/entry", "run", "x"}},
		{"service command", serviceArgs(executors.Image{Command: []string{"sleep", "1"}}, img, cmd), []string{"/entry", "sleep", "1"}},
		{"service entrypoint drops cmd", serviceArgs(executors.Image{Entrypoint: []string{"/e"}}, img, cmd), []string{"/e"}},
		{"service both", serviceArgs(executors.Image{Entrypoint: []string{"/e"}, Command: []string{"c"}}, img, cmd), []string{"/e", "c"}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestBindMounts(t *testing.T) {
	got := bindMounts([]executors.Mount{
		{Source: "/h", Target: "/c"},
		{Source: "/h2", Target: "/ro", ReadOnly: true},
		{Target: "/cache", Volume: true},
	}, []string{"", "", "/state/vol2"})
	want := []specs.Mount{
		{Type: "bind", Source: "/h", Destination: "/c", Options: []string{"rbind", "rw"}},
		{Type: "bind", Source: "/h2", Destination: "/ro", Options: []string{"rbind", "ro"}},
		{Type: "bind", Source: "/state/vol2", Destination: "/cache", Options: []string{"rbind", "rw"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i].Source != want[i].Source || got[i].Destination != want[i].Destination || !slices.Equal(got[i].Options, want[i].Options) {
			t.Errorf("mount %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestHostsFile(t *testing.T) {
	b, err := hostsFile(hostEntry{ip: "10.0.0.2", names: []string{"job"}},
		[]hostEntry{{ip: "10.0.0.3", names: []string{"web", "web.internal"}}, {ip: "10.0.0.4"}},
		[]string{"gitlab.local:192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"10.0.0.2\tjob\n10.0.0.3\tweb web.internal\n192.0.2.1\tgitlab.local\n"
	if string(b) != want {
		t.Errorf("hosts:\n%s\nwant:\n%s", b, want)
	}
	if _, err := hostsFile(hostEntry{}, nil, []string{"bad"}); err == nil {
		t.Error("malformed extra host accepted")
	}
}

func TestResolvConf(t *testing.T) {
	got := string(resolvConf([]byte("nameserver 127.0.0.53\nnameserver 10.0.0.1\nsearch example\n")))
	if got != "nameserver 10.0.0.1\nsearch example\n" {
		t.Errorf("resolv.conf %q", got)
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "A=1"}, []string{"A=2", "B=3"})
	if want := []string{"PATH=/bin", "A=2", "B=3"}; !slices.Equal(got, want) {
		t.Errorf("mergeEnv = %q, want %q", got, want)
	}
}

func TestRuntimeFor(t *testing.T) {
	if n, o := runtimeFor(DefaultRuntime, ""); n != DefaultRuntime || o != nil {
		t.Errorf("default: %s %v", n, o)
	}
	if n, o := runtimeFor(DefaultRuntime, "io.containerd.runsc.v1"); n != "io.containerd.runsc.v1" || o != nil {
		t.Errorf("shim name: %s %v", n, o)
	}
	if n, o := runtimeFor(DefaultRuntime, "crun"); n != DefaultRuntime || !strings.Contains(fmtAny(o), "crun") {
		t.Errorf("binary: %s %v", n, o)
	}
}

func TestNamesAndConf(t *testing.T) {
	if got := hostnameFor("j_1/" + strings.Repeat("x", 80)); len(got) > 63 || strings.ContainsAny(got, "_/") {
		t.Errorf("hostnameFor = %q", got)
	}
	if got := nodeFilter("n-1"); got != `labels."dev.runfleet.node"=="n-1"` {
		t.Errorf("nodeFilter = %s", got)
	}
	for _, bad := range []string{"", "..", "a/b", "-x"} {
		if validName(bad) == nil {
			t.Errorf("validName(%q) accepted", bad)
		}
	}
	conf, err := bridgeConfList("rf-cni0", "10.231.0.0/16", "/state/ipam")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"bridge": "rf-cni0"`, `"ipMasq": true`, `"subnet": "10.231.0.0/16"`, `"type": "firewall"`, adminChain} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("conflist lacks %s:\n%s", want, conf)
		}
	}
}

func TestRegistryHost(t *testing.T) {
	for in, want := range map[string]string{
		"https://index.docker.io/v1/": "docker.io",
		"registry-1.docker.io":        "docker.io",
		"registry.example.com:5000":   "registry.example.com:5000",
		"http://127.0.0.1:5000/v2":    "127.0.0.1:5000",
	} {
		if got := registryHost(in); got != want {
			t.Errorf("registryHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func fmtAny(v any) string { return fmt.Sprint(v) }
