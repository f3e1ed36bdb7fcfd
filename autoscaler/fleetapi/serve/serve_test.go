package serve_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/fleetapi/serve"
	"github.com/runfleet/runfleet/autoscaler/fleetapi/serve/servetest"
)

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8780": true, "[::1]:8780": true, "localhost:8780": true, "127.0.0.2:1": true,
		"0.0.0.0:8780": false, ":8780": false, "[::]:8780": false, "10.0.0.5:8780": false,
		"example.com:8780": false, "no-port": false,
	} {
		if got := serve.Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestServerLimits(t *testing.T) {
	s := serve.Server(http.NotFoundHandler(), nil)
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Fatalf("server without a limit: %+v", s)
	}
}

// start serves a handler answering "ok" on a loopback listener.
func start(t *testing.T, maxConns int, cfg *tls.Config) string {
	t.Helper()
	ln, err := serve.Listen("127.0.0.1:0", maxConns, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := serve.Server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), nil)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func client(t *testing.T, caFile string, cert *servetest.Pair) *http.Client {
	t.Helper()
	cfg := &tls.Config{}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RootCAs = x509.NewCertPool()
		cfg.RootCAs.AppendCertsFromPEM(pem)
	}
	if cert != nil {
		c, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

func get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "ok" {
		return fmt.Errorf("answer %d %q", resp.StatusCode, b)
	}
	return nil
}

// TestTLS: off, on, and mutual; a client without a certificate (or with
// one from another CA) is refused by a mutual-TLS server.
func TestTLS(t *testing.T) {
	ca := servetest.NewCA(t, "fleet")
	other := servetest.NewCA(t, "other")
	srvPair := ca.Server(t, "control-plane", "127.0.0.1")
	node := ca.Client(t, "node")
	stranger := other.Client(t, "stranger")

	t.Run("off", func(t *testing.T) {
		addr := start(t, 8, nil)
		if err := get(client(t, "", nil), "http://"+addr); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("on", func(t *testing.T) {
		cfg, err := serve.TLSConfig(srvPair.CertFile, srvPair.KeyFile, "")
		if err != nil {
			t.Fatal(err)
		}
		addr := start(t, 8, cfg)
		if err := get(client(t, ca.CertFile, nil), "https://"+addr); err != nil {
			t.Fatalf("TLS with the fleet CA: %v", err)
		}
		if err := get(client(t, other.CertFile, nil), "https://"+addr); err == nil {
			t.Fatal("a client trusting another CA accepted the server")
		}
		if err := get(client(t, "", nil), "http://"+addr); err == nil {
			t.Fatal("clear-text request answered by a TLS server")
		}
	})
	t.Run("mutual", func(t *testing.T) {
		cfg, err := serve.TLSConfig(srvPair.CertFile, srvPair.KeyFile, ca.CertFile)
		if err != nil {
			t.Fatal(err)
		}
		addr := start(t, 8, cfg)
		if err := get(client(t, ca.CertFile, &node), "https://"+addr); err != nil {
			t.Fatalf("node with a fleet certificate: %v", err)
		}
		if err := get(client(t, ca.CertFile, nil), "https://"+addr); err == nil {
			t.Fatal("a client without a certificate was served")
		}
		if err := get(client(t, ca.CertFile, &stranger), "https://"+addr); err == nil {
			t.Fatal("a client with another CA's certificate was served")
		}
	})
	t.Run("bad config", func(t *testing.T) {
		if _, err := serve.TLSConfig("", "", ""); err == nil {
			t.Error("no certificate accepted")
		}
		if _, err := serve.TLSConfig(srvPair.CertFile, srvPair.KeyFile, srvPair.KeyFile); err == nil {
			t.Error("a client CA file without a certificate accepted")
		}
	})
}

// TestConnectionCap: past the cap a new connection is not served until
// one closes.
func TestConnectionCap(t *testing.T) {
	addr := start(t, 2, nil)
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	third, err := net.Dial("tcp", addr) // the kernel accepts it into the backlog
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	io.WriteString(third, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := third.Read(make([]byte, 64)); err == nil || n > 0 {
		t.Fatalf("a third connection was served past a cap of 2 (%d bytes, %v)", n, err)
	}
	held[0].Close()
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 256)
	n, err := third.Read(b)
	if err != nil || !strings.Contains(string(b[:n]), "200 OK") {
		t.Fatalf("the waiting connection was not served once one closed: %q %v", b[:n], err)
	}
	held[1].Close()
}
