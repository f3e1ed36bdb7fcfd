package fleet

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/provider"
	"github.com/runfleet/runfleet/autoscaler/provider/aws"
	"github.com/runfleet/runfleet/autoscaler/provider/aws/awstest"
	"github.com/runfleet/runfleet/runner"
)

// TestRegisterPresentsIdentity: the agent sends its bootstrap token and
// the instance identity document it read from the (strict, IMDSv2-only)
// metadata service, and the document verifies as the aws provider checks it.
func TestRegisterPresentsIdentity(t *testing.T) {
	signer, err := awstest.NewIdentitySigner()
	if err != nil {
		t.Fatal(err)
	}
	imds := httptest.NewServer(signer.IMDS(awstest.NewIdentityDocument("111122223333", "eu-west-1", "eu-west-1a", "i-0abc", "m7i.large", time.Now())))
	t.Cleanup(imds.Close)
	p := &fakePlane{}
	c, _ := newClient(t, p, &fakeAgent{st: runner.Status{Slots: 2}}, nil)
	c.o.BootstrapToken = "rfb_secret"
	c.o.Identity = NewEC2Identity(imds.URL)
	if err := c.register(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := p.lastReg.Identity
	if got.BootstrapToken != "rfb_secret" || got.Document == "" || got.Signature == "" {
		t.Fatalf("registration identity %+v: want the bootstrap token, a document and a signature", got)
	}
	v, err := aws.NewIdentityVerifier(signer.CertificatePEM(), "eu-west-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify("i-0abc", provider.Identity{Document: []byte(got.Document), Signature: []byte(got.Signature)}); err != nil {
		t.Fatalf("the document the agent sent does not verify: %v", err)
	}
	// Without the metadata service the agent does not register.
	imds.Close()
	c.o.Identity = NewEC2Identity(imds.URL)
	if err := c.register(t.Context()); err == nil {
		t.Fatal("registered without an instance identity")
	}
}
