package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var (
	t0      = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	spotA   = Offering{InstanceType: "m7i.large", Zone: "a", Spot: true, PricePerHour: 0.03}
	spotB   = Offering{InstanceType: "m7i.large", Zone: "b", Spot: true, PricePerHour: 0.04}
	spotA2  = Offering{InstanceType: "m6i.large", Zone: "a", Spot: true, PricePerHour: 0.05}
	odA     = Offering{InstanceType: "m7i.large", Zone: "a", PricePerHour: 0.10}
	basePol = Pool{
		Name: "linux", Labels: []string{"self-hosted", "linux"}, SlotsPerNode: 2, MinNodes: 0, MaxNodes: 10,
		MinIdleSlots: 1, ScaleDownDelay: 10 * time.Minute, Offerings: []Offering{spotA, spotB, spotA2, odA},
	}
)

func launched(p Plan) int {
	n := 0
	for _, l := range p.Launch {
		n += l.Count
	}
	return n
}

func node(id string, st NodeState, busy int, o Offering, idleFor time.Duration) Node {
	n := Node{ID: id, Pool: "linux", Offering: o, State: st, Slots: 2, Busy: busy}
	if busy == 0 {
		n.IdleSince = t0.Add(-idleFor)
	}
	return n
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name  string
		pool  func(Pool) Pool
		snap  Snapshot
		check func(t *testing.T, p Plan)
	}{
		{
			name: "queue plus idle buffer, spread over zones, cheapest first",
			snap: Snapshot{Queued: []QueuedJobs{{Labels: []string{"linux"}, Count: 5}}},
			check: func(t *testing.T, p Plan) {
				if launched(p) != 3 || p.Wanted["linux"] != 6 {
					t.Fatalf("launch %+v wanted %v", p.Launch, p.Wanted)
				}
				if p.Launch[0].Offering != spotA || p.Launch[0].Count != 2 || p.Launch[1].Offering != spotB {
					t.Errorf("placement %+v", p.Launch)
				}
			},
		},
		{
			name: "booting nodes count: no double launch",
			snap: Snapshot{
				Queued: []QueuedJobs{{Labels: []string{"linux"}, Count: 5}},
				Nodes:  []Node{node("1", NodeBooting, 0, spotA, 0), node("2", NodeBooting, 0, spotB, 0), node("3", NodeBooting, 0, spotA, 0)},
			},
			check: func(t *testing.T, p Plan) {
				if launched(p) != 0 || len(p.Drain) != 0 {
					t.Errorf("plan %+v", p)
				}
			},
		},
		{
			name: "capacity failures skipped, then on-demand fallback",
			snap: Snapshot{
				Queued:   []QueuedJobs{{Count: 3}},
				Failures: []CapacityFailure{{spotA, t0.Add(-time.Minute)}, {spotB, t0.Add(-2 * time.Minute)}, {spotA2, t0.Add(-4 * time.Minute)}},
			},
			check: func(t *testing.T, p Plan) {
				if len(p.Launch) != 1 || p.Launch[0].Offering != odA || p.Launch[0].Count != 2 {
					t.Errorf("launch %+v", p.Launch)
				}
			},
		},
		{
			name: "old failures are forgotten",
			snap: Snapshot{Queued: []QueuedJobs{{Count: 1}}, Failures: []CapacityFailure{{spotA, t0.Add(-time.Hour)}}},
			check: func(t *testing.T, p Plan) {
				if len(p.Launch) != 1 || p.Launch[0].Offering != spotA {
					t.Errorf("launch %+v", p.Launch)
				}
			},
		},
		{
			name: "on-demand base first",
			pool: func(p Pool) Pool { p.OnDemandBase = 1; return p },
			snap: Snapshot{Queued: []QueuedJobs{{Count: 3}}},
			check: func(t *testing.T, p Plan) {
				if launched(p) != 2 || p.Launch[0].Offering != odA || p.Launch[1].Offering.Spot != true {
					t.Errorf("launch %+v", p.Launch)
				}
			},
		},
		{
			name: "scale down only long-idle nodes, never busy ones, keep the buffer",
			snap: Snapshot{Nodes: []Node{
				node("busy", NodeReady, 2, spotA, 0),
				node("idle-long", NodeReady, 0, spotB, time.Hour),
				node("idle-long-cheap", NodeReady, 0, spotA, time.Hour),
				node("idle-short", NodeReady, 0, spotA, time.Minute),
			}},
			check: func(t *testing.T, p Plan) {
				// busy 2 + buffer 1 = 3 slots = 2 nodes; two may go, but only
				// the long-idle ones qualify, most expensive first.
				if len(p.Drain) != 2 || p.Drain[0] != "idle-long" || p.Drain[1] != "idle-long-cheap" {
					t.Errorf("drain %v", p.Drain)
				}
			},
		},
		{
			name: "interrupted node is drained and replaced at once",
			snap: Snapshot{Nodes: []Node{func() Node { n := node("spot", NodeReady, 1, spotA, 0); n.Interrupted = true; return n }()}},
			check: func(t *testing.T, p Plan) {
				if len(p.Drain) != 1 || p.Drain[0] != "spot" || launched(p) != 1 {
					t.Errorf("plan %+v", p)
				}
			},
		},
		{
			name: "drained idle and NotReady nodes are terminated",
			snap: Snapshot{Nodes: []Node{node("d", NodeDraining, 0, spotA, time.Hour), node("d-busy", NodeDraining, 1, spotA, 0), node("lost", NodeNotReady, 0, spotB, 0)}},
			check: func(t *testing.T, p Plan) {
				if len(p.Terminate) != 2 || p.Terminate[0] != "d" || p.Terminate[1] != "lost" {
					t.Errorf("terminate %v", p.Terminate)
				}
			},
		},
		{
			name: "working-hours period raises the buffer",
			pool: func(p Pool) Pool {
				p.Periods = []Period{{Cron: "0 8 * * 1-5", Duration: 10 * time.Hour, MinIdleSlots: 6}}
				return p
			},
			snap: Snapshot{},
			check: func(t *testing.T, p Plan) {
				if p.Wanted["linux"] != 6 || launched(p) != 3 {
					t.Errorf("wanted %v launch %+v", p.Wanted, p.Launch)
				}
			},
		},
		{
			name: "max nodes caps, unknown labels are reported",
			pool: func(p Pool) Pool { p.MaxNodes = 2; return p },
			snap: Snapshot{Queued: []QueuedJobs{{Count: 50}, {Labels: []string{"gpu"}, Count: 4}}},
			check: func(t *testing.T, p Plan) {
				if launched(p) != 2 || p.Unplaced != 4 {
					t.Errorf("plan %+v", p)
				}
			},
		},
		{
			name: "scale factor adds idle slots in proportion to busy ones",
			pool: func(p Pool) Pool { p.ScaleFactor = 0.5; p.MaxIdleSlots = 2; return p },
			snap: Snapshot{Nodes: []Node{node("1", NodeReady, 2, spotA, 0), node("2", NodeReady, 2, spotB, 0), node("3", NodeReady, 2, spotA, 0)}},
			check: func(t *testing.T, p Plan) {
				if p.Wanted["linux"] != 6+1+2 || launched(p) != 2 {
					t.Errorf("wanted %v launch %+v", p.Wanted, p.Launch)
				}
			},
		},
		{
			name: "forecast within the boot horizon launches cold before the jobs queue",
			pool: func(p Pool) Pool { p.BootTime, p.MinIdleSlots = 45*time.Second, 0; return p },
			snap: Snapshot{Expected: []ExpectedJobs{
				{Labels: []string{"linux"}, Within: 45 * time.Second, Count: 5.6},
				{Labels: []string{"gpu"}, Within: 45 * time.Second, Count: 9}, // another pool's
				{Labels: []string{"linux"}, Within: 10 * time.Minute, Count: 40},
			}},
			check: func(t *testing.T, p Plan) {
				if launched(p) != 3 || p.Wanted["linux"] != 6 || p.Expected["linux"] != 6 {
					t.Errorf("launch %+v wanted %v expected %v", p.Launch, p.Wanted, p.Expected)
				}
			},
		},
		{
			name: "queued jobs start warm nodes first, cold ones for the rest",
			pool: func(p Pool) Pool {
				p.BootTime, p.WarmStartTime, p.MinIdleSlots = 45*time.Second, 15*time.Second, 0
				p.WarmPool = &WarmPool{MinSize: 2, MaxSize: 4, State: WarmStopped, Offering: odA}
				return p
			},
			snap: Snapshot{
				Queued: []QueuedJobs{{Labels: []string{"linux"}, Count: 9}},
				Nodes:  []Node{node("w1", NodeWarm, 0, odA, 0), node("w2", NodeWarm, 0, odA, 0), node("w3", NodeWarming, 0, odA, 0)},
			},
			check: func(t *testing.T, p Plan) {
				if len(p.Launch) < 2 || p.Launch[0].Kind != LaunchWarm || p.Launch[0].Count != 2 || p.Launch[0].Offering != odA {
					t.Fatalf("launch %+v", p.Launch)
				}
				if launched(p) != 5 || p.Launch[1].Kind != "" || !p.Launch[1].Offering.Spot {
					t.Errorf("launch %+v: want 2 warm + 3 cold spot", p.Launch)
				}
				if p.WarmTarget["linux"] != 2 {
					t.Errorf("warm target %v", p.WarmTarget)
				}
			},
		},
		{
			name: "demand beyond the warm start horizon waits for a warm start",
			pool: func(p Pool) Pool {
				p.BootTime, p.WarmStartTime, p.MinIdleSlots = 45*time.Second, 15*time.Second, 0
				p.WarmPool = &WarmPool{MinSize: 2, MaxSize: 4, State: WarmStopped, Offering: odA}
				return p
			},
			snap: Snapshot{
				Expected: []ExpectedJobs{{Within: 15 * time.Second, Count: 0.2}, {Within: 45 * time.Second, Count: 7}},
				Nodes:    []Node{node("w1", NodeWarm, 0, odA, 0), node("w2", NodeWarm, 0, odA, 0)},
			},
			check: func(t *testing.T, p Plan) {
				// 7 slots = 4 nodes: the 2 warm ones start later, 2 boot cold now.
				if launched(p) != 2 || p.Launch[0].Kind == LaunchWarm {
					t.Errorf("launch %+v", p.Launch)
				}
			},
		},
		{
			name: "single-use nodes: spent ones drained at once, busy or not, and replaced",
			pool: func(p Pool) Pool { p.MaxJobsPerNode, p.MinIdleSlots = 1, 0; return p },
			snap: Snapshot{
				Queued: []QueuedJobs{{Count: 1}},
				Nodes: []Node{
					func() Node { n := node("spent-idle", NodeReady, 0, spotA, time.Second); n.JobsRun = 1; return n }(),
					func() Node { n := node("spent-busy", NodeReady, 1, spotA, 0); n.JobsRun = 1; return n }(),
				},
			},
			check: func(t *testing.T, p Plan) {
				if len(p.Drain) != 2 || p.Drain[0] != "spent-idle" || p.Drain[1] != "spent-busy" || launched(p) != 1 {
					t.Errorf("plan %+v", p)
				}
			},
		},
		{
			name: "an interrupted node's jobs are replaced within the notice",
			pool: func(p Pool) Pool { p.MinIdleSlots = 0; return p },
			snap: Snapshot{Nodes: []Node{func() Node { n := node("doomed", NodeReady, 2, spotA, 0); n.Interrupted = true; return n }()}},
			check: func(t *testing.T, p Plan) {
				if len(p.Drain) != 1 || launched(p) != 1 || p.Wanted["linux"] != 2 {
					t.Errorf("plan %+v", p)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := basePol
			if tt.pool != nil {
				pool = tt.pool(pool)
			}
			if err := pool.Validate(); err != nil {
				t.Fatal(err)
			}
			tt.snap.Now = t0 // a Monday, 12:00 UTC
			tt.snap.Pools = []Pool{pool}
			tt.check(t, Policy{}.Plan(tt.snap))
		})
	}
}

func TestValidate(t *testing.T) {
	bad := []Pool{
		{},
		{Name: "x", SlotsPerNode: 1, MaxNodes: 1},
		{Name: "x", SlotsPerNode: 1, MaxNodes: 1, Offerings: []Offering{spotA}, Periods: []Period{{Cron: "nope", Duration: time.Hour}}},
		{Name: "x", SlotsPerNode: 1, MinNodes: 3, MaxNodes: 1, Offerings: []Offering{spotA}},
		{Name: "x", SlotsPerNode: 1, MaxNodes: 1, Offerings: []Offering{spotA}, WarmPool: &WarmPool{MaxSize: 1, State: WarmStopped, Offering: spotA}},
		{Name: "x", SlotsPerNode: 1, MaxNodes: 1, Offerings: []Offering{spotA}, WarmPool: &WarmPool{MaxSize: 1, State: "frozen", Offering: odA}},
		{Name: "x", SlotsPerNode: 1, MaxNodes: 1, Offerings: []Offering{spotA}, WarmPool: &WarmPool{MinSize: 2, MaxSize: 1, State: WarmStopped, Offering: odA}},
		{Name: "x", SlotsPerNode: 1, MaxNodes: 1, Offerings: []Offering{spotA}, IdleRisk: 1},
	}
	for i, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("pool %d accepted", i)
		}
	}
}

// TestSawtoothNoThrash drives the policy with demand that rises and falls
// every few minutes: nodes must not be retired and relaunched on each
// swing, and must go once demand is gone for longer than the delay.
func TestSawtoothNoThrash(t *testing.T) {
	pool := basePol
	var nodes []Node
	launches, drains := 0, 0
	next := 0
	step := 30 * time.Second
	for i := range 240 { // 2 hours
		now := t0.Add(time.Duration(i) * step)
		minute := i / 2
		queued := 0
		if minute < 90 && minute%6 < 3 { // 3 minutes of load, 3 without
			queued = 7
		}
		// Running jobs keep nodes busy while there is load.
		remaining := queued
		for k := range nodes {
			if nodes[k].State != NodeReady {
				continue
			}
			b := min(remaining, nodes[k].Slots)
			remaining -= b
			if nodes[k].Busy > 0 && b == 0 {
				nodes[k].IdleSince = now
			}
			nodes[k].Busy = b
		}
		p := Policy{}.Plan(Snapshot{Now: now, Pools: []Pool{pool}, Nodes: nodes, Queued: []QueuedJobs{{Count: remaining}}})
		for _, l := range p.Launch {
			for range l.Count {
				next++
				launches++
				nodes = append(nodes, Node{ID: fmt.Sprint(next), Pool: "linux", Offering: l.Offering, State: NodeReady, Slots: 2, IdleSince: now})
			}
		}
		for _, id := range p.Drain {
			drains++
			for k := range nodes {
				if nodes[k].ID == id {
					nodes[k].State = NodeDraining
				}
			}
		}
		kept := nodes[:0]
		for _, n := range nodes {
			if n.State != NodeDraining || n.Busy > 0 {
				kept = append(kept, n)
			}
		}
		nodes = kept
	}
	t.Logf("launches %d, drains %d, nodes left %d", launches, drains, len(nodes))
	if launches > 5 {
		t.Errorf("%d launches for a load that needs 5 nodes: thrash", launches)
	}
	if drains < launches-1 {
		t.Errorf("only %d of %d nodes retired after the load ended", drains, launches)
	}
	if len(nodes) != 1 {
		t.Errorf("%d nodes left, want 1 (the idle buffer)", len(nodes))
	}
}

// TestIdleRisk: the buffer for unannounced arrivals follows their rate.
func TestIdleRisk(t *testing.T) {
	pool := basePol
	pool.MinIdleSlots, pool.IdleRisk, pool.BootTime = 0, 0.1, 45*time.Second
	for _, tt := range []struct {
		unannounced float64 // within a boot
		wanted      int
	}{
		{0, 0}, {0.05, 0}, {0.2, 1}, {0.6, 2}, // Poisson(0.6): P(N > 1) = 0.122, P(N > 2) = 0.023
	} {
		s := Snapshot{Now: t0, Pools: []Pool{pool}, Expected: []ExpectedJobs{{Within: 45 * time.Second, Unannounced: tt.unannounced}}}
		p := Policy{}.Plan(s)
		if p.Wanted["linux"] != tt.wanted || launched(p) != (tt.wanted+1)/2 {
			t.Errorf("%.2f unannounced within a boot: plan %+v, want %d slots", tt.unannounced, p, tt.wanted)
		}
	}
}

// TestWarmTargetFollowsUnannouncedArrivals: with an IdleRisk, the warm
// pool holds what the running buffer leaves of a rarer tail, within its
// bounds; without, its minimum size.
func TestWarmTargetFollowsUnannouncedArrivals(t *testing.T) {
	pool := basePol
	pool.MinIdleSlots, pool.BootTime, pool.WarmStartTime = 0, 45*time.Second, 15*time.Second
	pool.WarmPool = &WarmPool{MinSize: 0, MaxSize: 3, State: WarmStopped, Offering: odA}
	for _, tt := range []struct {
		risk, unannounced float64
		want              int
	}{
		{0, 2, 0},      // no risk sizing: the minimum size
		{0.1, 0, 0},    // quiet: nothing held, not even disks
		{0.1, 0.05, 1}, // rare: no running buffer (P(N > 0) = 0.049), one warm node for that tail
		{0.1, 0.6, 1},  // running buffer 2 (risk 0.1), 3 at risk 0.01: one warm
		{0.1, 3, 3},    // running buffer 5, 8 at risk 0.01: three warm
		{0.1, 6, 3},    // capped at the maximum size
	} {
		p := pool
		p.IdleRisk = tt.risk
		s := Snapshot{Now: t0, Pools: []Pool{p}, Expected: []ExpectedJobs{{Within: 45 * time.Second, Unannounced: tt.unannounced}}}
		if got := (Policy{}).Plan(s).WarmTarget["linux"]; got != tt.want {
			t.Errorf("risk %g, %.2f unannounced within a boot: warm target %d, want %d", tt.risk, tt.unannounced, got, tt.want)
		}
	}
}

func TestRiskBuffer(t *testing.T) {
	tests := []struct {
		mean, risk float64
		want       int
	}{
		{0, 0.1, 0}, {1, 0, 0}, {0.05, 0.1, 0}, {0.2, 0.1, 1}, {0.2, 0.01, 2}, {3, 0.05, 6}, {3, 0.5, 3},
	}
	for _, tt := range tests {
		if got := riskBuffer(tt.mean, tt.risk); got != tt.want {
			t.Errorf("riskBuffer(%g, %g) = %d, want %d", tt.mean, tt.risk, got, tt.want)
		}
	}
}

func TestHorizons(t *testing.T) {
	a := Pool{BootTime: 45 * time.Second, WarmStartTime: 15 * time.Second}
	b := Pool{BootTime: 45 * time.Second}
	got := Horizons([]Pool{a, b, {}})
	if len(got) != 2 || got[0] != 15*time.Second || got[1] != 45*time.Second {
		t.Errorf("horizons %v", got)
	}
}

func TestPrivilegedWarnsUnlessSingleUse(t *testing.T) {
	p := basePol
	p.AllowPrivileged = true
	if w := p.Warnings(); len(w) != 1 || !strings.Contains(w[0], "PRIVILEGED") {
		t.Errorf("privileged reused nodes: warnings %v", w)
	}
	p.MaxJobsPerNode = 1
	if w := p.Warnings(); len(w) != 0 {
		t.Errorf("privileged single-use pool: warnings %v", w)
	}
	if w := basePol.Warnings(); len(w) != 0 {
		t.Errorf("plain pool: warnings %v", w)
	}
}
