// Package serve holds what every runfleet HTTP server sets: read,
// read-header, write and idle timeouts, a header size limit, a cap on
// open connections, and TLS (optionally mutual) from certificate files.
// The control plane's fleet and admin APIs (and the GitHub webhook on the
// fleet listener) and the agent's metrics/health server use it.
package serve

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/net/netutil"
)

// Limits every server gets.
const (
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds reading a whole request (bodies are small: JSON
	// up to 1 MiB, webhook deliveries up to 25 MiB on a fast link).
	ReadTimeout = 30 * time.Second
	// WriteTimeout bounds writing the answer (a /metrics scrape included).
	WriteTimeout = 30 * time.Second
	// IdleTimeout closes keep-alive connections idle this long; nodes
	// heartbeat every few seconds, so theirs stay open.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes caps request headers.
	MaxHeaderBytes = 64 << 10
)

// Server returns an http.Server for h with the limits above; errors of
// the server itself (TLS handshakes refused, for instance) go to log at
// debug level, not once per connection on stderr.
func Server(h http.Handler, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout, WriteTimeout: WriteTimeout,
		IdleTimeout: IdleTimeout, MaxHeaderBytes: MaxHeaderBytes,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// Listen listens on addr (TCP), accepting at most maxConns connections
// at once (further ones wait in the kernel's backlog until one closes),
// and serves TLS with tlsConfig when it is not nil.
func Listen(addr string, maxConns int, tlsConfig *tls.Config) (net.Listener, error) {
	if maxConns <= 0 {
		return nil, fmt.Errorf("listen %s: connection cap %d: want > 0", addr, maxConns)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ln = netutil.LimitListener(ln, maxConns)
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	return ln, nil
}

// TLSConfig is a server TLS configuration from a PEM certificate (chain)
// and key; with clientCAFile, clients must present a certificate that
// chains to it (mutual TLS).
func TLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("tls: cert_file and key_file are both required")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: client_ca_file %s: no PEM certificate in it", clientCAFile)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// Loopback reports whether addr (host:port) listens on loopback only. An
// empty host or a wildcard (":8780", "0.0.0.0:8780") is not loopback,
// nor is a name other than "localhost".
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
