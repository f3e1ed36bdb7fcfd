package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider/aws/awstest"
)

func TestWarmPoolConfig(t *testing.T) {
	spot := policy.Offering{InstanceType: "m7i.large", Zone: "a", Spot: true, PricePerHour: 0.03}
	od := policy.Offering{InstanceType: "m7i.large", Zone: "a", PricePerHour: 0.1}
	od2 := policy.Offering{InstanceType: "m6i.large", Zone: "a", PricePerHour: 0.09}
	p := policy.Pool{Name: "linux", SlotsPerNode: 1, MaxNodes: 4, Offerings: []policy.Offering{spot, od, od2}}

	if (*warmPoolFile)(nil).warmPool(p) != nil {
		t.Error("no [pools.warm_pool], yet a warm pool")
	}
	wp := (&warmPoolFile{MinSize: 1, MaxSize: 3, ReuseOnScaleIn: true}).warmPool(p)
	if wp.State != policy.WarmStopped || wp.Offering != od2 || !wp.ReuseOnScaleIn || wp.MinSize != 1 || wp.MaxSize != 3 {
		t.Errorf("warm pool %+v: want stopped, on the cheapest on-demand offering", *wp)
	}
	for name, w := range map[string]*warmPoolFile{
		"spot":         {MaxSize: 1, Offering: &offeringFile{InstanceType: "m7i.large", Zone: "a", Spot: true}},
		"bad state":    {MaxSize: 1, InstanceState: "frozen"},
		"min over max": {MinSize: 2, MaxSize: 1},
	} {
		bad := p
		bad.WarmPool = w.warmPool(p)
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "warm pool") {
			t.Errorf("%s: %v", name, err)
		}
	}

	// The aws provider needs the on-demand group that carries the pool.
	signer, err := awstest.NewIdentitySigner()
	if err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(t.TempDir(), "aws.pem")
	os.WriteFile(cert, signer.CertificatePEM(), 0o600)
	p.WarmPool = (&warmPoolFile{MaxSize: 2, InstanceState: "hibernated", ReuseOnScaleIn: true}).warmPool(p)
	f := awsProviderFile{Region: "eu-west-1", IdentityCertificateFile: cert, Pools: map[string]awsPoolFile{"linux": {AutoScalingGroup: "spot-group"}}}
	if _, err := awsConfig(f, []policy.Pool{p}); err == nil || !strings.Contains(err.Error(), "warm_group") {
		t.Errorf("a warm pool without warm_group: %v", err)
	}
	f.Pools["linux"] = awsPoolFile{AutoScalingGroup: "spot-group", WarmGroup: "od-group"}
	a, err := awsConfig(f, []policy.Pool{p})
	if err != nil {
		t.Fatal(err)
	}
	if ap := a.Pools["linux"]; ap.WarmGroup != "od-group" || ap.WarmPoolState != "Hibernated" || !ap.WarmReuseOnScaleIn {
		t.Errorf("aws pool %+v", ap)
	}
}
