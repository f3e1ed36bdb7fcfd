package aws

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
	"github.com/runfleet/runfleet/autoscaler/provider/aws/awstest"
)

const (
	region = "eu-west-1"
	key    = "AKIAFAKEFAKEFAKE0001"
	secret = "fake/secret/key"
)

var (
	spotA = policy.Offering{InstanceType: "m7i.large", Zone: "eu-west-1a", Spot: true, PricePerHour: 0.03}
	spotB = policy.Offering{InstanceType: "m7i.large", Zone: "eu-west-1b", Spot: true, PricePerHour: 0.04}
	odA   = policy.Offering{InstanceType: "m7i.large", Zone: "eu-west-1a", PricePerHour: 0.10}
)

func fake(o policy.Offering) awstest.Offering {
	return awstest.Offering{InstanceType: o.InstanceType, Zone: o.Zone, Spot: o.Spot}
}

func newProvider(t *testing.T, srv *awstest.Server, creds aws.CredentialsProvider, region string) *Provider {
	t.Helper()
	p, err := New(context.Background(), Config{
		Fleet: "ci", Region: region, Endpoint: srv.URL, Credentials: creds, MaxAttempts: 1,
		Pools: map[string]Pool{
			"fleet": {LaunchTemplateID: "lt-0123456789abcdef0", Subnets: map[string]string{"eu-west-1a": "subnet-eu-west-1a", "eu-west-1b": "subnet-eu-west-1b"}, Offerings: []policy.Offering{spotA, spotB, odA}},
			"asg":   {AutoScalingGroup: "runfleet-linux", Offerings: []policy.Offering{spotA, spotB}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func setup(t *testing.T) (*awstest.Server, *Provider) {
	srv := awstest.New(region, key, secret)
	t.Cleanup(srv.Close)
	srv.AddGroup(awstest.Group{
		Name: "runfleet-linux", Min: 0, Max: 5, Desired: 1,
		Offerings: []awstest.Offering{fake(spotA), fake(spotB)},
		Tags:      map[string]string{provider.LabelManaged: "true", provider.LabelFleet: "ci", provider.LabelPool: "asg"},
	})
	return srv, newProvider(t, srv, credentials.NewStaticCredentialsProvider(key, secret, ""), region)
}

func TestLaunchFleet(t *testing.T) {
	tests := []struct {
		name      string
		offering  policy.Offering
		count     int
		noCap     string
		throttle  int
		started   int
		capCode   string
		throttled bool
	}{
		{name: "spot starts", offering: spotA, count: 3, started: 3},
		{name: "on-demand starts", offering: odA, count: 1, started: 1},
		{name: "insufficient capacity", offering: spotB, count: 2, noCap: "InsufficientInstanceCapacity", capCode: "InsufficientInstanceCapacity"},
		{name: "spot count limit", offering: spotA, count: 1, noCap: "MaxSpotInstanceCountExceeded", capCode: "MaxSpotInstanceCountExceeded"},
		{name: "unfulfillable", offering: spotA, count: 1, noCap: "UnfulfillableCapacity", capCode: "UnfulfillableCapacity"},
		{name: "throttled", offering: spotA, count: 1, throttle: 1, throttled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, p := setup(t)
			if tt.noCap != "" {
				srv.NoCapacity(fake(tt.offering), tt.noCap)
			}
			srv.Throttle(tt.throttle)
			got, err := p.Launch(context.Background(), provider.LaunchRequest{Pool: "fleet", Offering: tt.offering, Count: tt.count})
			if len(got) != tt.started {
				t.Errorf("started %d, want %d", len(got), tt.started)
			}
			var ce *provider.CapacityError
			switch {
			case tt.capCode != "":
				if !errors.As(err, &ce) || ce.Code != tt.capCode || ce.Offering != tt.offering {
					t.Errorf("err %v, want capacity error %s for %v", err, tt.capCode, tt.offering)
				}
			case tt.throttled:
				var te *provider.ThrottledError
				if !errors.As(err, &te) {
					t.Errorf("err %v, want ThrottledError", err)
				}
			case err != nil:
				t.Errorf("err %v", err)
			}
			if r := srv.Rejected(); len(r) > 0 {
				t.Errorf("fake rejected requests: %v", r)
			}
			// Launched instances are tagged and listed with their offering.
			list, err := p.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, in := range list {
				if in.Pool == "fleet" {
					n++
					if in.Offering != tt.offering {
						t.Errorf("listed offering %+v, want %+v", in.Offering, tt.offering)
					}
				}
			}
			if n != tt.started {
				t.Errorf("listed %d fleet instances, want %d", n, tt.started)
			}
			for _, in := range srv.Instances() {
				if in.Group == "" && (in.Tags[provider.LabelOffering] != provider.OfferingKey(tt.offering) || in.Tags[provider.LabelFleet] != "ci") {
					t.Errorf("tags %v", in.Tags)
				}
			}
		})
	}
}

func TestAutoScalingGroup(t *testing.T) {
	ctx := context.Background()
	srv, p := setup(t)
	if _, err := p.Launch(ctx, provider.LaunchRequest{Pool: "asg", Offering: spotA, Count: 2}); err != nil {
		t.Fatal(err)
	}
	if g, _ := srv.Group("runfleet-linux"); g.Desired != 3 {
		t.Fatalf("desired %d, want 3", g.Desired)
	}
	list, err := p.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("listed %d, want 3: %+v", len(list), list)
	}
	for _, in := range srv.Instances() {
		if !in.Protected {
			t.Errorf("%s not protected from scale-in after List", in.ID)
		}
	}
	// Shrink: the named instance goes, the desired capacity follows, and
	// nothing replaces it.
	victim := list[1].ProviderID
	if err := p.Terminate(ctx, victim); err != nil {
		t.Fatal(err)
	}
	g, _ := srv.Group("runfleet-linux")
	live := 0
	for _, in := range srv.Instances() {
		if in.State != "terminated" {
			live++
		}
		if in.ID == victim && in.State != "terminated" {
			t.Errorf("victim %s is %s", victim, in.State)
		}
	}
	if g.Desired != 2 || live != 2 {
		t.Errorf("desired %d live %d, want 2 and 2", g.Desired, live)
	}
	// Gone already is fine, for group and plain instances alike.
	if err := p.Terminate(ctx, victim); err != nil {
		t.Errorf("second terminate: %v", err)
	}
	if err := p.Terminate(ctx, "i-00000000000000bad"); err != nil {
		t.Errorf("terminate unknown: %v", err)
	}
	// Above the group's max size is a capacity error, not a silent cap.
	var ce *provider.CapacityError
	if _, err := p.Launch(ctx, provider.LaunchRequest{Pool: "asg", Offering: spotA, Count: 10}); !errors.As(err, &ce) {
		t.Errorf("launch above max: %v", err)
	}
	// Throttled Auto Scaling calls are typed too.
	srv.Throttle(1)
	var te *provider.ThrottledError
	if err := p.Terminate(ctx, list[0].ProviderID); !errors.As(err, &te) {
		t.Errorf("throttled terminate: %v", err)
	}
	if r := srv.Rejected(); len(r) > 0 {
		t.Errorf("fake rejected requests: %v", r)
	}
}

func TestFleetTerminate(t *testing.T) {
	ctx := context.Background()
	srv, p := setup(t)
	got, err := p.Launch(ctx, provider.LaunchRequest{Pool: "fleet", Offering: spotB, Count: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("%v %v", got, err)
	}
	if err := p.Terminate(ctx, got[0].ProviderID); err != nil {
		t.Fatal(err)
	}
	for _, in := range srv.Instances() {
		if in.ID == got[0].ProviderID && in.State != "shutting-down" {
			t.Errorf("state %s", in.State)
		}
	}
	srv.Reclaim(got[0].ProviderID)
	list, _ := p.List(ctx)
	for _, in := range list {
		if in.ProviderID == got[0].ProviderID {
			t.Errorf("terminated instance still listed")
		}
	}
}

// TestFakeIsStrict: the fake refuses what AWS would refuse.
func TestFakeIsStrict(t *testing.T) {
	srv := awstest.New(region, key, secret)
	defer srv.Close()
	srv.AddGroup(awstest.Group{Name: "runfleet-linux", Max: 2, Offerings: []awstest.Offering{fake(spotA)}})
	tests := []struct {
		name   string
		creds  aws.CredentialsProvider
		region string
	}{
		{"wrong secret", credentials.NewStaticCredentialsProvider(key, "wrong", ""), region},
		{"unknown key", credentials.NewStaticCredentialsProvider("AKIAOTHER", secret, ""), region},
		{"wrong region in scope", credentials.NewStaticCredentialsProvider(key, secret, ""), "us-east-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, srv, tt.creds, tt.region)
			if _, err := p.List(context.Background()); err == nil {
				t.Error("accepted")
			}
			if _, err := p.Launch(context.Background(), provider.LaunchRequest{Pool: "fleet", Offering: spotA, Count: 1}); err == nil {
				t.Error("launch accepted")
			}
		})
	}
	if n := len(srv.Instances()); n != 0 {
		t.Errorf("%d instances launched by rejected requests", n)
	}
}
