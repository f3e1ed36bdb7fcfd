package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/fleetapi/serve"
	"github.com/runfleet/runfleet/autoscaler/fleetapi/serve/servetest"
)

// tlsClient trusts caFile (and presents pair, when not nil).
func tlsClient(t *testing.T, caFile string, pair *servetest.Pair) *http.Client {
	t.Helper()
	var cert, key string
	if pair != nil {
		cert, key = pair.CertFile, pair.KeyFile
	}
	cfg, err := serve.ClientTLS(caFile, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// register posts a registration with a wrong join token: a 401 answer
// proves the request reached the fleet API.
func register(c *http.Client, url string) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, url+fleetapi.PathRegister, bytes.NewReader([]byte(`{}`)))
	req.Header.Set("Content-Type", fleetapi.ContentType)
	req.Header.Set("Authorization", "Bearer wrong")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestRunTLS: `autoscaler run` with [tls] serves the fleet and admin APIs
// over TLS only, and with client_ca_file the fleet API admits only
// clients holding a certificate of that CA (mutual TLS). Without [tls]
// (the other run tests) both serve clear text on loopback.
func TestRunTLS(t *testing.T) {
	ca := servetest.NewCA(t, "fleet")
	srvPair := ca.Server(t, "control-plane", "127.0.0.1")
	node := ca.Client(t, "node")
	other := servetest.NewCA(t, "other")
	stranger := other.Client(t, "stranger")
	for _, mtls := range []bool{false, true} {
		t.Run(fmt.Sprintf("mtls=%v", mtls), func(t *testing.T) {
			extra := fmt.Sprintf("[tls]\ncert_file = %q\nkey_file = %q\n", srvPair.CertFile, srvPair.KeyFile)
			if mtls {
				extra += fmt.Sprintf("client_ca_file = %q\n", ca.CertFile)
			}
			_, cfgPath, fleetAddr, adminAddr := awsFleet(t, extra)
			c, err := loadConfig(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			if c.FleetURL != "https://"+fleetAddr {
				t.Errorf("default fleet_url %q, want https://%s", c.FleetURL, fleetAddr)
			}
			runInBackground(t, cfgPath)
			eventually(t, "the admin API over TLS", func() bool {
				_, err := fetchStatus(context.Background(), "https://"+adminAddr, ca.CertFile)
				return err == nil
			})
			if _, err := fetchStatus(context.Background(), "http://"+adminAddr, ""); err == nil {
				t.Error("the admin API answered in clear text")
			}
			if _, err := fetchStatus(context.Background(), "https://"+adminAddr, other.CertFile); err == nil {
				t.Error("a client trusting another CA accepted the admin API's certificate")
			}
			if code, err := register(tlsClient(t, ca.CertFile, &node), "https://"+fleetAddr); err != nil || code != http.StatusUnauthorized {
				t.Fatalf("fleet API over TLS with a node certificate: %d %v, want 401 from the handler", code, err)
			}
			// Go's TLS server answers a clear-text request "400 Client sent
			// an HTTP request to an HTTPS server"; the handler never sees it.
			if code, err := register(testClient, "http://"+fleetAddr); err == nil && code != http.StatusBadRequest {
				t.Errorf("the fleet API answered a clear-text request %d", code)
			}
			code, err := register(tlsClient(t, ca.CertFile, nil), "https://"+fleetAddr)
			if mtls && err == nil {
				t.Errorf("mutual TLS: a client without a certificate was answered %d", code)
			}
			if !mtls && (err != nil || code != http.StatusUnauthorized) {
				t.Errorf("TLS without client_ca_file: a client without a certificate: %d %v, want 401", code, err)
			}
			if code, err := register(tlsClient(t, ca.CertFile, &stranger), "https://"+fleetAddr); mtls && err == nil {
				t.Errorf("mutual TLS: a client with another CA's certificate was answered %d", code)
			}
		})
	}
}
