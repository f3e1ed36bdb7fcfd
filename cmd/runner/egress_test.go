package main

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"reflect"
	"testing"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/runner/config"
)

func TestEgressPolicy(t *testing.T) {
	cp, _ := url.Parse("https://cp.example.internal:8443")
	resolve := func(_ context.Context, host string) ([]netip.Addr, error) {
		if host != "cp.example.internal" {
			return nil, errors.New("no such host")
		}
		return []netip.Addr{netip.MustParseAddr("::ffff:10.0.0.5"), netip.MustParseAddr("fd00::5"), netip.MustParseAddr("127.0.0.1")}, nil
	}
	any4, any6 := netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")
	tests := []struct {
		name    string
		cfg     config.Config
		want    []executors.EgressBlock
		wantErr bool
	}{
		{name: "nothing", cfg: config.Config{}},
		{
			name: "control plane, listener and CIDRs, deduplicated",
			cfg: config.Config{
				Fleet:         config.Fleet{URL: cp},
				ListenAddress: ":9252",
				Runners: []config.Runner{
					{Name: "a", Docker: config.Docker{BlockedEgressCIDRs: []string{"10.1.2.3/8", "192.168.0.0/16"}}},
					{Name: "b", Docker: config.Docker{BlockedEgressCIDRs: []string{"10.0.0.0/8"}}},
				},
			},
			want: []executors.EgressBlock{
				{Net: netip.MustParsePrefix("10.0.0.5/32"), Why: "control plane"},
				{Net: netip.MustParsePrefix("fd00::5/128"), Why: "control plane"},
				{Net: any4, Port: 9252, Why: "agent listener"},
				{Net: any6, Port: 9252, Why: "agent listener"},
				{Net: netip.MustParsePrefix("10.0.0.0/8"), Why: "blocked_egress_cidrs"},
				{Net: netip.MustParsePrefix("192.168.0.0/16"), Why: "blocked_egress_cidrs"},
			},
		},
		{name: "a loopback listener needs no rule", cfg: config.Config{ListenAddress: "127.0.0.1:9252"}},
		{name: "an address listener", cfg: config.Config{ListenAddress: "10.0.0.7:9252"}, want: []executors.EgressBlock{
			{Net: any4, Port: 9252, Why: "agent listener"}, {Net: any6, Port: 9252, Why: "agent listener"},
		}},
		{name: "unresolvable control plane", cfg: config.Config{Fleet: config.Fleet{URL: &url.URL{Scheme: "https", Host: "nowhere.invalid"}}}, wantErr: true},
		{name: "bad listen address", cfg: config.Config{ListenAddress: "9252"}, wantErr: true},
		{name: "bad CIDR", cfg: config.Config{Runners: []config.Runner{{Docker: config.Docker{BlockedEgressCIDRs: []string{"10.0.0.0"}}}}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := egressPolicy(t.Context(), &tt.cfg, resolve)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("policy:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}
