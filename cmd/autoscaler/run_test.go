package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/provider"
	"github.com/runfleet/runfleet/autoscaler/provider/aws/awstest"
)

const (
	awsRegion = "eu-west-1"
	awsKey    = "AKIDEXAMPLE"
	awsSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// awsFleet starts the strict AWS fake with an empty Auto Scaling group
// for pool "linux" and writes a control plane config driving it (plus
// extra TOML); it returns the config path and the fleet/admin addresses.
func awsFleet(t *testing.T, extra string) (srv *awstest.Server, cfgPath, fleetAddr, adminAddr string) {
	t.Helper()
	srv = awstest.New(awsRegion, awsKey, awsSecret)
	t.Cleanup(srv.Close)
	srv.AddGroup(awstest.Group{
		Name: "runfleet-linux", Min: 0, Max: 5, Desired: 0, NewInstancesProtected: true,
		Offerings: []awstest.Offering{{InstanceType: "m7i.large", Zone: "eu-west-1a", Spot: true}},
		Tags:      map[string]string{provider.LabelManaged: "true", provider.LabelFleet: "ci", provider.LabelPool: "linux"},
	})
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fleetAddr, adminAddr = freeAddr(t), freeAddr(t)
	cfgPath = write("autoscaler.toml", fmt.Sprintf(`fleet = "ci"
listen_address = %q
admin_address = %q
join_token_file = %q
store = %q
reconcile_interval = "200ms"
[provider]
type = "aws"
[provider.aws]
region = %q
endpoint = %q
max_attempts = 1
identity_certificate_file = %q
[provider.aws.static_credentials]
access_key_id = %q
secret_access_key_file = %q
[provider.aws.pools.linux]
auto_scaling_group = "runfleet-linux"
[[pools]]
name = "linux"
labels = ["linux"]
slots_per_node = 2
min_nodes = 2
max_nodes = 5
[[pools.offerings]]
instance_type = "m7i.large"
zone = "eu-west-1a"
spot = true
price_per_hour = 0.03
`, fleetAddr, adminAddr, write("join", "join-secret\n"), filepath.Join(dir, "fleet.db"), awsRegion, srv.URL,
		write("aws-identity.pem", string(testIdentitySigner(t).CertificatePEM())), awsKey,
		write("aws-secret", awsSecret))+extra)
	return srv, cfgPath, fleetAddr, adminAddr
}

// runInBackground runs `autoscaler run` (the same function) until the
// test ends.
func runInBackground(t *testing.T, cfgPath string) {
	t.Helper()
	c, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runControlPlane(ctx, c, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("timed out waiting for `autoscaler run` to stop after its context ended")
		}
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// testClient bounds every request of these tests: a listener that stops
// answering fails the test instead of hanging it.
var testClient = &http.Client{Timeout: 30 * time.Second}

// eventually polls cond until it holds or a minute passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting for %s", what)
}

// TestRunAWSScalesGroup: `autoscaler run` with type = "aws" against the
// strict fake raises the Auto Scaling group to the pool's minimum, adopts
// the instances it launched, and protects them from scale-in.
func TestRunAWSScalesGroup(t *testing.T) {
	srv, cfgPath, _, adminAddr := awsFleet(t, "")
	runInBackground(t, cfgPath)
	eventually(t, "the group's desired capacity to reach 2", func() bool {
		g, _ := srv.Group("runfleet-linux")
		return g.Desired == 2
	})
	eventually(t, "the control plane to know 2 booting nodes", func() bool {
		list, err := fetchStatus(context.Background(), "http://"+adminAddr, "")
		return err == nil && len(list.Nodes) == 2 && list.Nodes[0].State == "Booting"
	})
	eventually(t, "scale-in protection on both instances", func() bool {
		n := 0
		for _, in := range srv.Instances() {
			if in.Group == "runfleet-linux" && in.Protected && in.State != "terminated" {
				n++
			}
		}
		return n == 2
	})
	if r := srv.Rejected(); len(r) > 0 {
		t.Errorf("the fake rejected calls: %v", r)
	}
}

func signBody(body, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// TestRunGitHubDemand: a signed workflow_job delivery to [demand.github]'s
// path on the fleet listener becomes queued demand the next reconcile
// sees; a badly signed one is refused.
func TestRunGitHubDemand(t *testing.T) {
	secretPath := filepath.Join(t.TempDir(), "gh-secret")
	if err := os.WriteFile(secretPath, []byte("It's a Secret to Everybody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, cfgPath, fleetAddr, adminAddr := awsFleet(t, fmt.Sprintf(`[demand.github]
path = "/hooks/github"
secret_file = %q
`, secretPath))
	runInBackground(t, cfgPath)
	body, err := os.ReadFile(filepath.Join("testdata", "workflow_job.queued.payload.json"))
	if err != nil {
		t.Fatalf("fixture (see testdata/README.md): %v", err)
	}
	deliver := func(sig string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+fleetAddr+"/hooks/github", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "workflow_job")
		req.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
		req.Header.Set("X-Hub-Signature-256", sig)
		var resp *http.Response
		eventually(t, "the fleet listener", func() bool {
			resp, err = testClient.Do(req)
			if err != nil {
				req.Body, _ = req.GetBody()
			}
			return err == nil
		})
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := deliver(signBody(body, []byte("wrong"))); code != http.StatusUnauthorized {
		t.Fatalf("badly signed delivery: %d, want 401", code)
	}
	if code := deliver(signBody(body, []byte("It's a Secret to Everybody"))); code != http.StatusAccepted {
		t.Fatalf("signed delivery: %d, want 202", code)
	}
	eventually(t, "the queued job in the control plane's view", func() bool {
		list, err := fetchStatus(context.Background(), "http://"+adminAddr, "")
		if err != nil {
			return false
		}
		for _, q := range list.Queued {
			if q.Count == 1 && len(q.Labels) == 1 && q.Labels[0] == "ubuntu-latest" {
				return true
			}
		}
		return false
	})
	// The fleet API is still served on the same listener.
	req, _ := http.NewRequest(http.MethodPost, "http://"+fleetAddr+fleetapi.PathHeartbeat, bytes.NewReader([]byte(`{}`)))
	req.Header.Set("Content-Type", fleetapi.ContentType)
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("heartbeat without a token: %d, want 401", resp.StatusCode)
	}
}
