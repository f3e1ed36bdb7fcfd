package aws

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/runfleet/runfleet/autoscaler/provider"
)

// IdentityVerifier checks EC2 instance identity documents: the document
// and its base64 signature (/latest/dynamic/instance-identity/document
// and …/signature), an RSA PKCS #1 v1.5 signature over the document's
// SHA-256 made with the key of the region's AWS "RSA" public certificate
// ("Verify the instance identity document", option 2; AWS publishes the
// certificates per region). A document proves the instance only to whom
// can read it: the metadata service answers the instance itself, and
// jobs on a node are denied the metadata address.
type IdentityVerifier struct {
	keys     []*rsa.PublicKey
	region   string
	accounts []string
}

// NewIdentityVerifier takes the PEM certificate(s) to trust (the
// region's AWS RSA certificate; several are accepted for a rotation), the
// region documents must name, and optionally the account ids they may
// name (empty: any).
func NewIdentityVerifier(certPEM []byte, region string, accounts []string) (*IdentityVerifier, error) {
	v := &IdentityVerifier{region: region, accounts: accounts}
	rest := certPEM
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("instance identity certificate: %w", err)
		}
		key, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("instance identity certificate: %T key; want the region's RSA certificate (not the DSA or RSA-2048 PKCS7 one)", cert.PublicKey)
		}
		v.keys = append(v.keys, key)
	}
	if len(v.keys) == 0 {
		return nil, errors.New("instance identity certificate: no PEM CERTIFICATE found")
	}
	if region == "" {
		return nil, errors.New("instance identity: region is required")
	}
	return v, nil
}

// identityDocument is the part of the document the verifier reads.
type identityDocument struct {
	AccountID  string `json:"accountId"`
	InstanceID string `json:"instanceId"`
	Region     string `json:"region"`
}

// Verify checks the signature, then that the document names instanceID
// in the verifier's region (and an allowed account). Errors wrap
// provider.ErrIdentity.
func (v *IdentityVerifier) Verify(instanceID string, id provider.Identity) error {
	sig, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(id.Signature)), ""))
	if err != nil {
		return fmt.Errorf("%w: signature is not base64: %v", provider.ErrIdentity, err)
	}
	sum := sha256.Sum256(id.Document)
	ok := false
	for _, k := range v.keys {
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) == nil {
			ok = true
			break
		}
	}
	if !ok {
		return fmt.Errorf("%w: the document's signature does not verify with the configured certificate", provider.ErrIdentity)
	}
	var doc identityDocument
	if err := json.Unmarshal(id.Document, &doc); err != nil {
		return fmt.Errorf("%w: document: %v", provider.ErrIdentity, err)
	}
	switch {
	case doc.InstanceID != instanceID:
		return fmt.Errorf("%w: the document is instance %q's, not %q's", provider.ErrIdentity, doc.InstanceID, instanceID)
	case doc.Region != v.region:
		return fmt.Errorf("%w: the document is from region %q, not %q", provider.ErrIdentity, doc.Region, v.region)
	case len(v.accounts) > 0 && !slices.Contains(v.accounts, doc.AccountID):
		return fmt.Errorf("%w: account %q is not one of the fleet's", provider.ErrIdentity, doc.AccountID)
	}
	return nil
}

// VerifyIdentity checks a registering node's instance identity document
// (the control plane's IdentityVerifier).
func (p *Provider) VerifyIdentity(_ context.Context, providerID string, id provider.Identity) error {
	if p.identity == nil {
		return fmt.Errorf("%w: no instance identity certificate configured (Config.IdentityCertificate)", provider.ErrIdentity)
	}
	return p.identity.Verify(providerID, id)
}
