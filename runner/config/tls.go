package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSConfig is the TLS configuration for talking to the runner's GitLab
// (the API and git over https): tls-ca-file is added to the system roots,
// tls-cert-file and tls-key-file are a client certificate. It is nil when
// none of them is set.
func (r Runner) TLSConfig() (*tls.Config, error) {
	if r.TLSCAFile == "" && r.TLSCertFile == "" && r.TLSKeyFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if r.TLSCAFile != "" {
		pem, err := os.ReadFile(r.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls-ca-file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls-ca-file %s: no PEM certificate in it", r.TLSCAFile)
		}
		c.RootCAs = pool
	}
	if (r.TLSCertFile == "") != (r.TLSKeyFile == "") {
		return nil, errors.New("tls-cert-file and tls-key-file go together")
	}
	if r.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(r.TLSCertFile, r.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls-cert-file/tls-key-file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
