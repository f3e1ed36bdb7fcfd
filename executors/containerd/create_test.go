package containerd_test

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/containerd"
)

// refusedPort returns a loopback address where nothing listens.
func refusedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestCreateErrors(t *testing.T) {
	t.Parallel()
	img := executors.Image{Name: testImage, PullPolicy: executors.PullNever}
	for _, tc := range []struct {
		name    string
		allowed []string
		spec    executors.Spec
		want    error
	}{
		{"pull from a refusing registry", nil, executors.Spec{Image: executors.Image{
			Name: refusedPort(t) + "/runfleet/none:latest", PullPolicy: executors.PullAlways,
			Auth: &executors.RegistryAuth{Username: "u", Password: "p"}}}, executors.ErrImagePull},
		{"if-not-present pulls a missing image", nil, executors.Spec{Image: executors.Image{
			Name: refusedPort(t) + "/runfleet/none:latest"}}, executors.ErrImagePull},
		{"never pull a missing image", nil, executors.Spec{Image: executors.Image{
			Name: "runfleet/absent:latest", PullPolicy: executors.PullNever}}, executors.ErrImagePull},
		{"image not allowed", []string{"docker.io/library/*"}, executors.Spec{Image: img}, executors.ErrImageNotAllowed},
		{"service image not allowed", []string{"runfleet/busybox:*"}, executors.Spec{Image: img, Services: []executors.Service{{
			Image: executors.Image{Name: "evil/svc", PullPolicy: executors.PullNever}}}}, executors.ErrImageNotAllowed},
		{"service without network", nil, executors.Spec{Image: img, Network: executors.NetworkNone,
			Services: []executors.Service{{Image: img}}}, nil},
		{"bad job ID", nil, executors.Spec{JobID: "../x", Image: img}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			node := uniqueNode(t)
			ex := newExecutor(t, node, func(o *containerd.Options) { o.AllowedImages = tc.allowed })
			spec := tc.spec
			if spec.JobID == "" {
				spec.JobID = "j" + node
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			env, err := ex.Create(ctx, spec)
			if err == nil {
				_ = env.Close(ctx)
				t.Fatal("Create succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if left := leftovers(t, node); len(left) != 0 {
				t.Errorf("failed Create left %q", left)
			}
		})
	}
}

func TestMetadataRule(t *testing.T) {
	t.Parallel()
	newExecutor(t, uniqueNode(t))
	out, err := exec.Command("iptables", "-w", "-S", "RUNFLEET-ADMIN").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "169.254.169.254/32") || !strings.Contains(string(out), "REJECT") {
		t.Errorf("metadata rule missing: %v\n%s", err, out)
	}
}

func TestServicesAndEgressPlumbing(t *testing.T) {
	t.Parallel()
	node := uniqueNode(t)
	ex := newExecutor(t, node)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	svc := func(alias string) executors.Service {
		return executors.Service{
			Image:   executors.Image{Name: testImage, PullPolicy: executors.PullNever, Command: []string{"sh", "-c", "echo " + alias + " > /i && exec httpd -f -p 80 -h /"}},
			Aliases: []string{alias},
		}
	}
	env, err := ex.Create(ctx, executors.Spec{JobID: "j" + node, Image: executors.Image{Name: testImage, PullPolicy: executors.PullNever},
		Services: []executors.Service{svc("one"), svc("two")}, ExtraHosts: []string{"extra.test:192.0.2.7"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Close(ctx) }()
	var out strings.Builder
	res, err := env.Exec(ctx, executors.Step{Script: `for i in $(seq 1 100); do wget -q -O - http://two/i 2>/dev/null && break; sleep 0.1; done
wget -q -O - http://one/i; grep extra.test /etc/hosts | cut -f1; ip route | grep -c '^default'`}, &out)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("exit %d, err %v, output %q", res.ExitCode, err, out.String())
	}
	if got := out.String(); got != "two\none\n192.0.2.7\n1\n" {
		t.Errorf("output %q", got)
	}
}
