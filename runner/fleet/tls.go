package fleet

import (
	"fmt"
	"net/http"
	"time"

	"github.com/runfleet/runfleet/autoscaler/fleetapi/serve"
)

// NewHTTPClient returns the fleet client's HTTP client. With caFile, the
// control plane's certificate must chain to that CA bundle only (the
// fleet's private CA); certFile and keyFile are the node's certificate
// for a control plane requiring mutual TLS.
func NewHTTPClient(caFile, certFile, keyFile string) (*http.Client, error) {
	cfg, err := serve.ClientTLS(caFile, certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}
