package awstest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// IdentityDocument is an EC2 instance identity document, with the fields
// and JSON names the metadata service serves at
// /latest/dynamic/instance-identity/document.
type IdentityDocument struct {
	AccountID               string    `json:"accountId"`
	Architecture            string    `json:"architecture"`
	AvailabilityZone        string    `json:"availabilityZone"`
	BillingProducts         []string  `json:"billingProducts"`
	DevpayProductCodes      []string  `json:"devpayProductCodes"`
	MarketplaceProductCodes []string  `json:"marketplaceProductCodes"`
	ImageID                 string    `json:"imageId"`
	InstanceID              string    `json:"instanceId"`
	InstanceType            string    `json:"instanceType"`
	KernelID                *string   `json:"kernelId"`
	PendingTime             time.Time `json:"pendingTime"`
	PrivateIP               string    `json:"privateIp"`
	RamdiskID               *string   `json:"ramdiskId"`
	Region                  string    `json:"region"`
	Version                 string    `json:"version"`
}

// NewIdentityDocument fills a document the way EC2 does for an instance.
func NewIdentityDocument(account, region, zone, instanceID, instanceType string, pending time.Time) IdentityDocument {
	return IdentityDocument{AccountID: account, Architecture: "x86_64", AvailabilityZone: zone, ImageID: "ami-0abcdef1234567890",
		InstanceID: instanceID, InstanceType: instanceType, PendingTime: pending.UTC().Truncate(time.Second),
		PrivateIP: "10.0.0.10", Region: region, Version: "2017-09-30"}
}

// IdentitySigner plays AWS's part in instance identity: it holds an RSA
// key and a self-signed certificate standing in for a region's "RSA"
// public certificate, and signs documents as the metadata service's
// /latest/dynamic/instance-identity/signature does: an RSA PKCS #1 v1.5
// signature over the SHA-256 of the document bytes, base64 encoded in
// 64-character lines.
type IdentitySigner struct {
	key     *rsa.PrivateKey
	certPEM []byte
}

// NewIdentitySigner makes a fresh test key and certificate.
func NewIdentitySigner() (*IdentitySigner, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{Country: []string{"US"}, Organization: []string{"runfleet test: Amazon Web Services LLC stand-in"}},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &IdentitySigner{key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// CertificatePEM is the certificate a verifier is configured with.
func (s *IdentitySigner) CertificatePEM() []byte { return s.certPEM }

// Sign returns the document as served (pretty JSON, as EC2 serves it) and
// its signature as served.
func (s *IdentitySigner) Sign(doc IdentityDocument) (document, signature []byte) {
	document, _ = json.MarshalIndent(doc, "", "  ")
	sum := sha256.Sum256(document)
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		panic(fmt.Sprintf("awstest: signing: %v", err)) // a 2048-bit key always signs
	}
	b64 := base64.StdEncoding.EncodeToString(sig)
	var buf bytes.Buffer
	for len(b64) > 64 {
		buf.WriteString(b64[:64] + "\n")
		b64 = b64[64:]
	}
	buf.WriteString(b64)
	return document, buf.Bytes()
}

// IMDS is a strict fake of the instance metadata service's IMDSv2
// identity endpoints for one instance: PUT /latest/api/token (TTL header
// 1..21600 required, X-Forwarded-For refused), then GET
// /latest/dynamic/instance-identity/{document,signature} with that
// token. A GET without a valid token is 401, as with
// HttpTokens=required.
func (s *IdentitySigner) IMDS(doc IdentityDocument) http.Handler { return s.IMDSInGroup(doc, nil) }

// IMDSInGroup is IMDS for an instance of an Auto Scaling group: GET
// /latest/meta-data/autoscaling/target-lifecycle-state answers
// lifecycle() (InService, Warmed:Stopped, ...). With a nil lifecycle the
// path is 404, as for an instance in no group.
func (s *IdentitySigner) IMDSInGroup(doc IdentityDocument, lifecycle func() string) http.Handler {
	document, signature := s.Sign(doc)
	var mu sync.Mutex
	tokens := map[string]time.Time{}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /latest/api/token", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Forwarded-For") != "" {
			http.Error(w, "Forbidden", http.StatusForbidden)
			return
		}
		ttl, err := strconv.Atoi(r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds"))
		if err != nil || ttl < 1 || ttl > 21600 {
			http.Error(w, "Bad Request", http.StatusBadRequest)
			return
		}
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		tok := base64.RawURLEncoding.EncodeToString(b)
		mu.Lock()
		tokens[tok] = time.Now().Add(time.Duration(ttl) * time.Second)
		mu.Unlock()
		w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", strconv.Itoa(ttl))
		_, _ = w.Write([]byte(tok))
	})
	serve := func(body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			exp, ok := tokens[r.Header.Get("X-aws-ec2-metadata-token")]
			mu.Unlock()
			if !ok || time.Now().After(exp) {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(body)
		}
	}
	mux.HandleFunc("GET /latest/dynamic/instance-identity/document", serve(document))
	mux.HandleFunc("GET /latest/dynamic/instance-identity/signature", serve(signature))
	mux.HandleFunc("GET /latest/meta-data/autoscaling/target-lifecycle-state", func(w http.ResponseWriter, r *http.Request) {
		if lifecycle == nil {
			http.NotFound(w, r)
			return
		}
		serve([]byte(lifecycle()))(w, r)
	})
	return mux
}
