package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/fleetapi/serve/servetest"
)

// TestExampleConfig loads autoscaler/example.toml (its /etc/runfleet
// secrets and files replaced by temporary ones) with each provider type,
// so the example never drifts from what loadConfig accepts.
func TestExampleConfig(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "autoscaler", "example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"join-token", "admin-token", "node.toml", "gitlab-token", "github-webhook-secret", "github-token", "github-app.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x-"+f+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "aws-identity-rsa.pem"), testIdentitySigner(t).CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := servetest.NewCA(t, "fleet")
	pair := ca.Server(t, "fleet", "10.0.0.5")
	if err := os.MkdirAll(filepath.Join(dir, "tls"), 0o700); err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{pair.CertFile: "tls/fleet.pem", pair.KeyFile: "tls/fleet-key.pem"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	body := strings.ReplaceAll(string(raw), "/etc/runfleet/", dir+"/")
	for _, typ := range []string{"docker", "aws"} {
		t.Run(typ, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "autoscaler.toml")
			b := strings.Replace(body, `type = "docker"`, `type = "`+typ+`"`, 1)
			if typ == "docker" {
				// The docker provider listens on loopback only.
				b = strings.Replace(b, `listen_address = "0.0.0.0:8780"`, `listen_address = "127.0.0.1:8780"`, 1)
			}
			if err := os.WriteFile(p, []byte(b), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := loadConfig(p)
			if err != nil {
				t.Fatal(err)
			}
			if c.AdminToken != "x-admin-token" || c.DrainTimeout != 10*time.Minute || c.DrainHardLimit != 2*time.Hour ||
				len(c.Pools) != 1 || len(c.Pools[0].Offerings) != 3 || len(c.GitLab) != 1 ||
				c.GitHub == nil || c.GitHub.Secret != "x-github-webhook-secret" || c.GitHub.Path != "/github/webhook" {
				t.Errorf("config %+v", c)
			}
			if j := c.GitHubJIT; j == nil || j.Auth.AppID != 12345 || string(j.Auth.PrivateKey) != "x-github-app.pem" || len(j.Pools["linux"].Labels) != 3 {
				t.Errorf("[github_jit] %+v", c.GitHubJIT)
			}
			if c.FleetTLS == nil || c.AdminTLS == nil {
				t.Errorf("[tls] not loaded")
			}
			if typ == "aws" && (c.AWS.Region != "eu-west-1" || c.AWS.Pools["linux"].AutoScalingGroup != "runfleet-linux" || c.AWS.Credentials != nil) {
				t.Errorf("aws %+v", c.AWS)
			}
		})
	}
}
