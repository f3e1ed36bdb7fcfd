package fleet

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/fleetapi/serve"
	"github.com/runfleet/runfleet/autoscaler/fleetapi/serve/servetest"
	"github.com/runfleet/runfleet/runner"
)

// TestClientTLS: the fleet client trusts the configured CA only, and
// presents its certificate to a control plane requiring mutual TLS.
func TestClientTLS(t *testing.T) {
	ca := servetest.NewCA(t, "fleet")
	other := servetest.NewCA(t, "other")
	pair := ca.Server(t, "cp", "127.0.0.1")
	node := ca.Client(t, "node")
	cfg, err := serve.TLSConfig(pair.CertFile, pair.KeyFile, ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(&fakePlane{})
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	try := func(caFile string, cert *servetest.Pair) error {
		var cf, kf string
		if cert != nil {
			cf, kf = cert.CertFile, cert.KeyFile
		}
		hc, err := NewHTTPClient(caFile, cf, kf)
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(Options{URL: srv.URL, JoinToken: "join", NodeTokenFile: filepath.Join(t.TempDir(), "tok"), Name: "n1",
			ProviderID: "p1", Agent: &fakeAgent{st: runner.Status{Slots: 1}}, Interval: time.Millisecond, HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		return c.register(t.Context())
	}
	if err := try(ca.CertFile, &node); err != nil {
		t.Fatalf("register over mutual TLS with the fleet CA and a node certificate: %v", err)
	}
	if err := try(ca.CertFile, nil); err == nil {
		t.Error("registered without a client certificate")
	}
	if err := try(other.CertFile, &node); err == nil {
		t.Error("registered with a control plane whose certificate is not the configured CA's")
	}
	// The system roots are not trusted when a CA file is given: the pool
	// holds the fleet CA only.
	hc, err := NewHTTPClient(ca.CertFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := os.ReadFile(ca.CertFile)
	want := x509.NewCertPool()
	want.AppendCertsFromPEM(pem)
	tr, ok := hc.Transport.(*http.Transport)
	if !ok || tr.TLSClientConfig == nil || !tr.TLSClientConfig.RootCAs.Equal(want) || tr.TLSClientConfig.MinVersion < tls.VersionTLS12 {
		t.Fatal("the client's roots are not exactly the configured CA (or TLS < 1.2 allowed)")
	}
}
