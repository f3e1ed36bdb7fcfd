package controlplane_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/controlplane/sqlitestore"
	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// BenchmarkHeartbeats10k registers 10,000 simulated nodes with a control
// plane on loopback (SQLite store) and has each heartbeat every 10 s for
// RUNFLEET_BENCH_HEARTBEAT_SECONDS (default 30), then prints the p50/p99
// heartbeat latency, the same against a fleet of one node measured in the
// same run (the baseline), and the process's peak RSS. Goal: p99 ≤ 50 ms,
// RSS ≤ 500 MB. The simulated nodes run in the same process (sharing a
// pool of keep-alive connections), so the RSS covers both sides.
func BenchmarkHeartbeats10k(b *testing.B) {
	secs := 30
	if v, err := strconv.Atoi(os.Getenv("RUNFLEET_BENCH_HEARTBEAT_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	for b.Loop() {
		base := heartbeatRun(b, 1, 200*time.Millisecond, 3*time.Second)
		big := heartbeatRun(b, 10000, 10*time.Second, time.Duration(secs)*time.Second)
		rss := peakRSS()
		b.ReportMetric(ms(big.p99), "p99-ms")
		b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MB")
		fmt.Printf("heartbeats: 10000 nodes every 10s for %ds: %d heartbeats, p50 %.2f ms, p99 %.2f ms (goal ≤ 50 ms), p99 after each node's first heartbeat %.2f ms; "+
			"1 node: p50 %.2f ms, p99 %.2f ms; p99 ratio %.1fx; registration of 10000 nodes %s; peak RSS %d MB (goal ≤ 500 MB)\n",
			secs, big.n, ms(big.p50), ms(big.p99), ms(big.steadyP99), ms(base.p50), ms(base.p99), ms(big.p99)/max(ms(base.p99), 0.001),
			big.register.Round(time.Millisecond), rss>>20)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type hbResult struct {
	n        int
	p50, p99 time.Duration
	// steadyP99 leaves out each node's first heartbeat (a new connection).
	steadyP99 time.Duration
	register  time.Duration
}

func heartbeatRun(b *testing.B, nodes int, every, dur time.Duration) hbResult {
	b.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(b.TempDir(), "fleet.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	prov := newFakeProvider(time.Now)
	pool := policy.Pool{Name: "linux", SlotsPerNode: 2, MinNodes: nodes, MaxNodes: nodes,
		ScaleDownDelay: time.Hour, Offerings: []policy.Offering{spotA}}
	cp, err := controlplane.New(ctx, controlplane.Options{Store: st, Provider: prov, Pools: []policy.Pool{pool},
		JoinToken: joinToken, HeartbeatGrace: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	if err := cp.Reconcile(ctx); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(cp.Handler())
	defer srv.Close()
	tr := &http.Transport{MaxIdleConns: 2000, MaxIdleConnsPerHost: 2000, MaxConnsPerHost: 4000}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	type node struct{ name, pid, tok string }
	var ns []node
	for _, s := range cp.Status().Nodes {
		ns = append(ns, node{name: s.Name, pid: s.ProviderID})
	}
	if len(ns) != nodes {
		b.Fatalf("%d nodes launched, want %d", len(ns), nodes)
	}
	// Register with 64 at a time.
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range ns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var r fleetapi.RegisterResponse
			if err := postJSON(hc, srv.URL+fleetapi.PathRegister, joinToken,
				fleetapi.RegisterRequest{Name: ns[i].name, ProviderID: ns[i].pid, Capacity: fleetapi.Capacity{Slots: 2}}, &r); err != nil {
				b.Error(err)
				return
			}
			ns[i].tok = r.NodeToken
		})
	}
	wg.Wait()
	reg := time.Since(start)
	if b.Failed() {
		b.FailNow()
	}
	// Heartbeats: each node at its own phase, every `every`.
	var mu sync.Mutex
	var lat, steady []time.Duration
	deadline := time.Now().Add(dur)
	for i := range ns {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			time.Sleep(time.Duration(rng.Int64N(int64(every))))
			mine := make([]time.Duration, 0, int(dur/every)+1)
			var later []time.Duration
			for time.Now().Before(deadline) {
				hb := fleetapi.Heartbeat{Name: ns[i].name, ProviderID: ns[i].pid, Slots: 2, Busy: rng.IntN(3),
					Running: []fleetapi.RunningJob{{ID: strconv.Itoa(i), Source: "gitlab", Since: time.Now()}}}
				t0 := time.Now()
				var r fleetapi.HeartbeatResponse
				if err := postJSON(hc, srv.URL+fleetapi.PathHeartbeat, ns[i].tok, hb, &r); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(t0)
				if len(mine) > 0 {
					later = append(later, d)
				}
				mine = append(mine, d)
				time.Sleep(every)
			}
			mu.Lock()
			lat = append(lat, mine...)
			steady = append(steady, later...)
			mu.Unlock()
		})
	}
	// The reconcile loop runs meanwhile, as in production.
	rctx, stop := context.WithCancel(ctx)
	go func() {
		for rctx.Err() == nil {
			_ = cp.Reconcile(rctx)
			time.Sleep(time.Second)
		}
	}()
	wg.Wait()
	stop()
	slices.Sort(lat)
	slices.Sort(steady)
	if len(lat) == 0 {
		b.Fatal("no heartbeats")
	}
	q := func(l []time.Duration, p float64) time.Duration {
		if len(l) == 0 {
			return 0
		}
		return l[min(len(l)-1, int(p*float64(len(l))))]
	}
	return hbResult{n: len(lat), p50: q(lat, 0.50), p99: q(lat, 0.99), steadyP99: q(steady, 0.99), register: reg}
}

func postJSON(hc *http.Client, url, tok string, in, out any) error {
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", fleetapi.ContentType)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// peakRSS reads VmHWM from /proc/self/status (bytes).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10
		}
	}
	return 0
}
