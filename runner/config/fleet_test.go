package config

import (
	"strings"
	"testing"
)

// TestFleetSection: [fleet]'s identity and TLS keys and the docker
// provider's environment (bootstrap token, CA file).
func TestFleetSection(t *testing.T) {
	const base = `
[[runners]]
name = "a"
url = "https://gitlab.example.com"
token = "glrt-abcdefghijkl"
executor = "docker"
[runners.docker]
image = "alpine:3"
[fleet]
url = "https://10.0.0.5:8780"
`
	env := map[string]string{
		"RUNFLEET_FLEET_JOIN_TOKEN":      "join",
		"RUNFLEET_FLEET_BOOTSTRAP_TOKEN": "rfb_one-time",
		"RUNFLEET_FLEET_CA_FILE":         "/var/lib/runfleet/nodes/n1/fleet-ca.pem",
	}
	tests := []struct {
		name, extra, wantErr string
		check                func(t *testing.T, f Fleet)
	}{
		{"docker provider environment", "", "", func(t *testing.T, f Fleet) {
			if f.BootstrapToken != "rfb_one-time" || f.CAFile != "/var/lib/runfleet/nodes/n1/fleet-ca.pem" || f.Identity != "" {
				t.Errorf("fleet %+v", f)
			}
		}},
		{"aws identity and mutual TLS", "identity = \"aws\"\nclient_cert_file = \"/etc/runfleet/node.pem\"\nclient_key_file = \"/etc/runfleet/node-key.pem\"\n", "", func(t *testing.T, f Fleet) {
			if f.Identity != "aws" || f.ClientCertFile != "/etc/runfleet/node.pem" || f.ClientKeyFile != "/etc/runfleet/node-key.pem" {
				t.Errorf("fleet %+v", f)
			}
		}},
		{"unknown identity", "identity = \"gcp\"\n", `identity "gcp"`, nil},
		{"client cert without key", "client_cert_file = \"/etc/runfleet/node.pem\"\n", "go together", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(writeFile(t, base+tt.extra), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c.Fleet)
		})
	}
}
