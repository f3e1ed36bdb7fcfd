package aws

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/provider"
	"github.com/runfleet/runfleet/autoscaler/provider/aws/awstest"
)

func TestIdentityVerifier(t *testing.T) {
	signer, err := awstest.NewIdentitySigner()
	if err != nil {
		t.Fatal(err)
	}
	other, err := awstest.NewIdentitySigner()
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewIdentityVerifier(signer.CertificatePEM(), "eu-west-1", []string{"111122223333"})
	if err != nil {
		t.Fatal(err)
	}
	doc := awstest.NewIdentityDocument("111122223333", "eu-west-1", "eu-west-1a", "i-0abc", "m7i.large", time.Now())
	good, sig := signer.Sign(doc)
	sign := func(mut func(*awstest.IdentityDocument)) provider.Identity {
		d := doc
		mut(&d)
		b, s := signer.Sign(d)
		return provider.Identity{Document: b, Signature: s}
	}
	_, otherSig := other.Sign(doc)
	tests := []struct {
		name     string
		instance string
		id       provider.Identity
		ok       bool
	}{
		{"valid", "i-0abc", provider.Identity{Document: good, Signature: sig}, true},
		{"another instance's document", "i-0def", provider.Identity{Document: good, Signature: sig}, false},
		{"tampered document", "i-0abc", provider.Identity{Document: bytes.Replace(good, []byte("m7i.large"), []byte("m7i.metal"), 1), Signature: sig}, false},
		{"signed by another key", "i-0abc", provider.Identity{Document: good, Signature: otherSig}, false},
		{"signature not base64", "i-0abc", provider.Identity{Document: good, Signature: []byte("%%%")}, false},
		{"no signature", "i-0abc", provider.Identity{Document: good}, false},
		{"other region", "i-0abc", sign(func(d *awstest.IdentityDocument) { d.Region = "us-east-1" }), false},
		{"other account", "i-0abc", sign(func(d *awstest.IdentityDocument) { d.AccountID = "999999999999" }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Verify(tt.instance, tt.id)
			if tt.ok != (err == nil) {
				t.Fatalf("Verify: %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, provider.ErrIdentity) {
				t.Fatalf("error %v does not wrap provider.ErrIdentity", err)
			}
		})
	}
}

func TestIdentityVerifierConfig(t *testing.T) {
	signer, err := awstest.NewIdentitySigner()
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		pem    []byte
		region string
	}{
		"no certificate": {[]byte("not a pem"), "eu-west-1"},
		"no region":      {signer.CertificatePEM(), ""},
	} {
		if _, err := NewIdentityVerifier(tc.pem, tc.region, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	p := &Provider{}
	if err := p.VerifyIdentity(t.Context(), "i-1", provider.Identity{}); !errors.Is(err, provider.ErrIdentity) {
		t.Fatalf("a provider without a certificate verified an identity: %v", err)
	}
}
