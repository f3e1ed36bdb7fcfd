package aws

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
	"github.com/runfleet/runfleet/autoscaler/provider/aws/awstest"
)

func warmSetup(t *testing.T, warmGroup string) (*awstest.Server, *Provider) {
	t.Helper()
	srv := awstest.New(region, key, secret)
	t.Cleanup(srv.Close)
	tags := map[string]string{provider.LabelManaged: "true", provider.LabelFleet: "ci", provider.LabelPool: "linux"}
	srv.AddGroup(awstest.Group{Name: "runfleet-linux", Max: 10, Offerings: []awstest.Offering{fake(spotA), fake(spotB)},
		MixedInstancesPolicy: true, NewInstancesProtected: true, Tags: tags})
	srv.AddGroup(awstest.Group{Name: "runfleet-linux-warm", Max: 10, Offerings: []awstest.Offering{fake(odA)}, NewInstancesProtected: true, Tags: tags})
	p, err := New(context.Background(), Config{
		Fleet: "ci", Region: region, Endpoint: srv.URL, Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""), MaxAttempts: 1,
		Pools: map[string]Pool{"linux": {AutoScalingGroup: "runfleet-linux", WarmGroup: warmGroup, WarmReuseOnScaleIn: true,
			Offerings: []policy.Offering{spotA, spotB, odA}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, p
}

func count(calls []string, action string) int {
	n := 0
	for _, c := range calls {
		if c == action {
			n++
		}
	}
	return n
}

func TestWarmPool(t *testing.T) {
	ctx := context.Background()
	srv, p := warmSetup(t, "runfleet-linux-warm")
	req := provider.LaunchRequest{Pool: "linux", Offering: odA}
	if n, err := p.FillWarm(ctx, req, 2); err != nil || n != 2 {
		t.Fatalf("FillWarm(2): %d, %v (rejected: %v)", n, err, srv.Rejected())
	}
	if insts, err := p.List(ctx); err != nil || len(insts) != 0 {
		t.Fatalf("List shows warm instances as nodes: %+v, %v", insts, err)
	}
	// The same size again: no second PutWarmPool.
	if _, err := p.FillWarm(ctx, req, 2); err != nil || count(srv.Calls(), "PutWarmPool") != 1 {
		t.Errorf("PutWarmPool calls %d, err %v", count(srv.Calls(), "PutWarmPool"), err)
	}

	// A warm launch grows the warm group: a warm instance goes into
	// service, the pool is refilled.
	req.Kind, req.Count = policy.LaunchWarm, 1
	if _, err := p.Launch(ctx, req); err != nil {
		t.Fatalf("warm launch: %v", err)
	}
	insts, err := p.List(ctx)
	if err != nil || len(insts) != 1 || insts[0].State != "running" || insts[0].Offering.Spot || insts[0].Pool != "linux" {
		t.Fatalf("after a warm launch: %+v, %v", insts, err)
	}
	started := insts[0].ProviderID
	if n, _ := p.Warm(ctx, "linux"); n != 2 {
		t.Errorf("warm pool not refilled: %d", n)
	}
	// A cold launch goes to the spot group.
	if _, err := p.Launch(ctx, provider.LaunchRequest{Pool: "linux", Offering: spotA, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if g, _ := srv.Group("runfleet-linux"); g.Desired != 1 {
		t.Errorf("cold launch: spot group desired %d", g.Desired)
	}

	// Scale-in with reuse: the node returns to the warm pool, and the
	// pool holds its size.
	if err := p.Terminate(ctx, started); err != nil {
		t.Fatal(err)
	}
	back := false
	for _, in := range srv.Instances() {
		if in.ID == started {
			back = in.Warm && in.State == "stopped"
		}
	}
	if !back {
		t.Errorf("instance %s did not return to the warm pool", started)
	}
	if n, _ := p.Warm(ctx, "linux"); n != 2 {
		t.Errorf("warm pool %d after reuse, want 2", n)
	}

	// Size 0 deletes the warm pool.
	req.Kind = ""
	if n, err := p.FillWarm(ctx, req, 0); err != nil || n != 0 || count(srv.Calls(), "DeleteWarmPool") != 1 {
		t.Errorf("FillWarm(0): %d, %v, calls %v", n, err, srv.Calls())
	}
	if n, _ := p.Warm(ctx, "linux"); n != 0 {
		t.Errorf("%d warm instances after the delete", n)
	}
	if len(srv.Rejected()) != 0 {
		t.Errorf("the fake rejected: %v", srv.Rejected())
	}
}

// TestWarmPoolOnSpotGroupRefused: Auto Scaling refuses a warm pool on a
// group with a mixed instances policy or Spot, and so does the fake.
func TestWarmPoolOnSpotGroupRefused(t *testing.T) {
	srv, p := warmSetup(t, "runfleet-linux")
	_, err := p.FillWarm(context.Background(), provider.LaunchRequest{Pool: "linux", Offering: odA}, 1)
	if err == nil || !strings.Contains(err.Error(), "ValidationError") || !strings.Contains(err.Error(), "mixed instances policy") {
		t.Fatalf("warm pool on a spot group: %v", err)
	}
	for _, in := range srv.Instances() {
		if in.Warm {
			t.Errorf("a refused warm pool launched %s", in.ID)
		}
	}
}
