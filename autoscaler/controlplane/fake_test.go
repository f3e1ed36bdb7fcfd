package controlplane_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
	"github.com/runfleet/runfleet/autoscaler/provider/aws"
	"github.com/runfleet/runfleet/autoscaler/provider/aws/awstest"
)

// fakeProvider keeps instances in memory; fail injects errors per call.
type fakeProvider struct {
	mu        sync.Mutex
	next      int
	insts     map[string]provider.Instance
	noCap     map[policy.Offering]bool
	throttle  int // the next n calls answer ThrottledError
	launches  []provider.LaunchRequest
	terminate []string
	now       func() time.Time
	// boot holds each instance's bootstrap token, as the docker provider
	// hands one to each container.
	boot map[string]string
}

func newFakeProvider(now func() time.Time) *fakeProvider {
	return &fakeProvider{insts: map[string]provider.Instance{}, noCap: map[policy.Offering]bool{}, now: now, boot: map[string]string{}}
}

func (f *fakeProvider) throttled() error {
	if f.throttle > 0 {
		f.throttle--
		return &provider.ThrottledError{RetryAfter: 10 * time.Second, Err: fmt.Errorf("RequestLimitExceeded")}
	}
	return nil
}

func (f *fakeProvider) Offerings(context.Context) ([]policy.Offering, error) { return nil, nil }

func (f *fakeProvider) Launch(_ context.Context, req provider.LaunchRequest) ([]provider.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.throttled(); err != nil {
		return nil, err
	}
	f.launches = append(f.launches, req)
	if f.noCap[req.Offering] {
		return nil, &provider.CapacityError{Offering: req.Offering, Code: "InsufficientInstanceCapacity", Err: fmt.Errorf("no capacity")}
	}
	var out []provider.Instance
	for range req.Count {
		f.next++
		in := provider.Instance{ProviderID: fmt.Sprintf("i-%04d", f.next), Name: fmt.Sprintf("node-%04d", f.next),
			Pool: req.Pool, Offering: req.Offering, State: "running", LaunchedAt: f.now()}
		f.insts[in.ProviderID] = in
		in.BootstrapToken = "rfb_" + rand.Text()
		f.boot[in.ProviderID] = in.BootstrapToken
		out = append(out, in)
	}
	return out, nil
}

func (f *fakeProvider) Terminate(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.throttled(); err != nil {
		return err
	}
	f.terminate = append(f.terminate, id)
	delete(f.insts, id)
	return nil
}

func (f *fakeProvider) List(context.Context) ([]provider.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.throttled(); err != nil {
		return nil, err
	}
	var out []provider.Instance
	for _, in := range f.insts {
		out = append(out, in)
	}
	return out, nil
}

// bootToken is the bootstrap token the instance id was launched with.
func (f *fakeProvider) bootToken(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.boot[id]
}

// signer signs instance identity documents for every test (one RSA key
// generation per test binary).
var signer = sync.OnceValue(func() *awstest.IdentitySigner {
	s, err := awstest.NewIdentitySigner()
	if err != nil {
		panic(err)
	}
	return s
})

// iidRegion is the region of the test fleet's identity documents.
const iidRegion = "eu-west-1"

// signedIdentity is instance id's EC2 instance identity document and
// signature, as its metadata service serves them.
func signedIdentity(id string) fleetapi.Identity {
	doc, sig := signer().Sign(awstest.NewIdentityDocument("111122223333", iidRegion, iidRegion+"a", id, "m7i.large", time.Now()))
	return fleetapi.Identity{Document: string(doc), Signature: string(sig)}
}

// verifying makes a provider check instance identity documents with the
// real aws verifier, as the aws provider does.
type verifying struct{ v *aws.IdentityVerifier }

func newVerifying() verifying {
	v, err := aws.NewIdentityVerifier(signer().CertificatePEM(), iidRegion, nil)
	if err != nil {
		panic(err)
	}
	return verifying{v}
}

func (v verifying) VerifyIdentity(_ context.Context, providerID string, id provider.Identity) error {
	return v.v.Verify(providerID, id)
}

// iidProvider is the fake provider with EC2-style signed identities.
type iidProvider struct {
	*fakeProvider
	verifying
}

func (f *fakeProvider) kill(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.insts[id]
	in.State = "terminated"
	f.insts[id] = in
}

func (f *fakeProvider) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.insts)
}

// fakeDemand is a settable queue.
type fakeDemand struct {
	mu sync.Mutex
	q  []policy.QueuedJobs
}

func (d *fakeDemand) set(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.q = []policy.QueuedJobs{{Labels: []string{"linux"}, Count: n}}
}

func (d *fakeDemand) Queued(context.Context) ([]policy.QueuedJobs, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.q, nil
}

// clock is a manual clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func providerReq(n int) provider.LaunchRequest {
	return provider.LaunchRequest{Pool: "linux", Offering: spotA, Count: n}
}
