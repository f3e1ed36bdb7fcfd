package e2e

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/fleetapi/serve"
	"github.com/runfleet/runfleet/autoscaler/fleetapi/serve/servetest"
)

// TestFleetOverTLS: the fleet API served over TLS only; node containers
// trust the fleet's CA (handed to them by the docker provider), register,
// heartbeat and run jobs over it; a clear-text request reaches no handler.
func TestFleetOverTLS(t *testing.T) {
	ca := servetest.NewCA(t, "fleet")
	pair := ca.Server(t, "control-plane", "127.0.0.1")
	cfg, err := serve.TLSConfig(pair.CertFile, pair.KeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	f := fleetNewTLS(t, 2, cfg, pem)
	ids := f.enqueue(2, "echo job over a TLS fleet")
	f.start()
	f.waitJobs(ids, 3*time.Minute)
	if h := f.metric("runfleet_fleet_heartbeats_total", nil); h == 0 {
		t.Error("no heartbeats over TLS")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Post("http://"+f.addr+"/fleet/v1/heartbeat", "application/json", nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("clear-text request to the TLS fleet API: %d, want 400 (Go: HTTP request to an HTTPS server)", resp.StatusCode)
		}
	}
}
