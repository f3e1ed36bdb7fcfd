package config

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTLSCAFile talks to an HTTPS server whose certificate no system root
// signs: refused without tls-ca-file, accepted with it.
func TestTLSCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	get := func(r Runner) error {
		cfg, err := r.TLSConfig()
		if err != nil {
			return err
		}
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := c.Get(srv.URL)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
	if err := get(Runner{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without tls-ca-file: %v", err)
	}
	if err := get(Runner{TLSCAFile: ca}); err != nil {
		t.Fatalf("with tls-ca-file: %v", err)
	}
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	_ = os.WriteFile(notPEM, []byte("nothing"), 0o600)
	for _, r := range []Runner{{TLSCAFile: notPEM}, {TLSCertFile: ca}, {TLSCAFile: "/nonexistent"}} {
		if _, err := r.TLSConfig(); err == nil {
			t.Errorf("%+v: no error", r)
		}
	}
}
