package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/github"
)

// BenchmarkGitHubJITMint: what minting through the control plane costs a
// node against minting with its own key (the baseline, in the same run and
// on the same fake GitHub): each op mints a runner and deletes it both
// ways. The org holds 300 runners of other nodes, so a control plane that
// listed the target at every mint would show it in github-requests/op; it
// lists only at a node's first mint and at its slot cap.
//
//	go test -run='^$' -bench=GitHubJITMint -benchtime=200x ./cmd/autoscaler/
func BenchmarkGitHubJITMint(b *testing.B) {
	f := newJITFleet(b, 1e6)
	f.gh.AddPAT("ghp_bench", "orgs/acme")
	direct, err := github.NewClient(github.ClientOptions{URL: f.gh.URL() + "/acme", Auth: github.Auth{Token: "ghp_bench"}, JITPerMinute: 1e6})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range 300 {
		if _, err := direct.MintJIT(ctx, github.JITRequest{Name: fmt.Sprintf("other-%d-0-aa", i), RunnerGroupID: 1, Labels: []string{"linux"}}); err != nil {
			b.Fatal(err)
		}
	}
	// The node's first mint lists its runners once; not part of the steady state.
	first, err := f.api.MintJIT(ctx, github.JITRequest{Name: "node-1-1-00", Labels: []string{"linux"}})
	if err != nil {
		b.Fatal(err)
	}
	if err := f.api.DeleteRunner(ctx, first.RunnerID); err != nil {
		b.Fatal(err)
	}
	before := len(f.gh.Requests())
	var viaDirect, viaFleet time.Duration
	fleetRequests := 0
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("node-1-0-%x", i)
		t0 := time.Now()
		j, err := direct.MintJIT(ctx, github.JITRequest{Name: "direct-" + name, RunnerGroupID: 1, Labels: []string{"linux"}})
		if err == nil {
			err = direct.DeleteRunner(ctx, j.RunnerID)
		}
		t1 := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		n0 := len(f.gh.Requests())
		j, err = f.api.MintJIT(ctx, github.JITRequest{Name: name, Labels: []string{"linux"}})
		if err == nil {
			err = f.api.DeleteRunner(ctx, j.RunnerID)
		}
		t2 := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		viaDirect += t1.Sub(t0)
		viaFleet += t2.Sub(t1)
		fleetRequests += len(f.gh.Requests()) - n0
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(viaDirect.Microseconds())/1000/n, "direct-ms/op")
	b.ReportMetric(float64(viaFleet.Microseconds())/1000/n, "fleet-ms/op")
	b.ReportMetric(float64(viaFleet)/float64(viaDirect), "fleet-vs-direct-ratio")
	b.ReportMetric(float64(fleetRequests)/n, "github-requests/fleet-op")
	b.ReportMetric(float64(len(f.gh.Requests())-before)/n, "github-requests/op")
}
