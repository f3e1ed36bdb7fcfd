package controlplane_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
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

// envHeartbeatClient, when set, turns the test binary into the simulated
// nodes of BenchmarkHeartbeats10k (see TestMain): the benchmark re-execs
// itself so the clients' CPU, goroutines and memory stay out of the
// server process whose latency and RSS are measured.
const envHeartbeatClient = "RUNFLEET_BENCH_HEARTBEAT_CLIENT"

func TestMain(m *testing.M) {
	if spec := os.Getenv(envHeartbeatClient); spec != "" {
		if err := heartbeatClient(spec); err != nil {
			fmt.Fprintln(os.Stderr, "heartbeat client:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkHeartbeats10k serves the fleet API of a control plane (SQLite
// store, reconcile loop running every second) on loopback, registers
// 10,000 simulated nodes and has each heartbeat every 10 s for
// RUNFLEET_BENCH_HEARTBEAT_SECONDS (default 30). The nodes run in a
// separate process (this test binary re-executed), which measures each
// heartbeat's round trip. It prints the p50/p99 latency, the same for a
// fleet of one node measured in the same run (the baseline), and the
// server process's peak RSS. Goal: p99 ≤ 50 ms, RSS ≤ 500 MB.
//
//	go test -run '^$' -bench BenchmarkHeartbeats10k -benchtime 1x ./autoscaler/controlplane/
func BenchmarkHeartbeats10k(b *testing.B) {
	secs := 30
	if v, err := strconv.Atoi(os.Getenv("RUNFLEET_BENCH_HEARTBEAT_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	for b.Loop() {
		base := heartbeatRun(b, 1, 200*time.Millisecond, 3*time.Second)
		big := heartbeatRun(b, 10000, 10*time.Second, time.Duration(secs)*time.Second)
		rss := peakRSS("self")
		b.ReportMetric(big.P99, "p99-ms")
		b.ReportMetric(float64(rss)/(1<<20), "server-peak-rss-MB")
		fmt.Printf("heartbeats: 10000 nodes every 10s for %ds: %d heartbeats, p50 %.2f ms, p99 %.2f ms (goal ≤ 50 ms), p99 after each node's first heartbeat %.2f ms, max %.2f ms; "+
			"1 node: p50 %.2f ms, p99 %.2f ms; p99 ratio %.1fx; registration of 10000 nodes %.1fs; server peak RSS %d MB (goal ≤ 500 MB), client process peak RSS %d MB\n",
			secs, big.N, big.P50, big.P99, big.SteadyP99, big.Max, base.P50, base.P99, big.P99/max(base.P99, 0.001),
			big.RegisterSeconds, rss>>20, big.ClientRSS>>20)
	}
}

// hbSpec is what the benchmark hands the client process.
type hbSpec struct {
	URL     string        `json:"url"`
	Every   time.Duration `json:"every"`
	For     time.Duration `json:"for"`
	Nodes   []hbNode      `json:"nodes"`
	Results string        `json:"results"`
}

type hbNode struct{ Name, ProviderID, BootstrapToken string }

// hbResult is what the client process reports (milliseconds).
type hbResult struct {
	N               int     `json:"n"`
	P50             float64 `json:"p50"`
	P99             float64 `json:"p99"`
	SteadyP99       float64 `json:"steady_p99"` // leaving out each node's first heartbeat (a new connection)
	Max             float64 `json:"max"`
	RegisterSeconds float64 `json:"register_seconds"`
	ClientRSS       int64   `json:"client_rss"`
}

func heartbeatRun(b *testing.B, nodes int, every, dur time.Duration) hbResult {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "fleet.db"))
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: cp.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	spec := hbSpec{URL: "http://" + ln.Addr().String(), Every: every, For: dur, Results: filepath.Join(dir, "results.json")}
	for _, s := range cp.Status().Nodes {
		spec.Nodes = append(spec.Nodes, hbNode{Name: s.Name, ProviderID: s.ProviderID, BootstrapToken: prov.bootToken(s.ProviderID)})
	}
	if len(spec.Nodes) != nodes {
		b.Fatalf("%d nodes launched, want %d", len(spec.Nodes), nodes)
	}
	specPath := filepath.Join(dir, "spec.json")
	raw, _ := json.Marshal(spec)
	if err := os.WriteFile(specPath, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	// The reconcile loop runs meanwhile, as in production.
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for rctx.Err() == nil {
			_ = cp.Reconcile(rctx)
			time.Sleep(time.Second)
		}
	}()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHeartbeatClient+"="+specPath)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("heartbeat client process: %v", err)
	}
	stop()
	var res hbResult
	raw, err = os.ReadFile(spec.Results)
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		b.Fatal(err)
	}
	if res.N == 0 {
		b.Fatal("no heartbeats")
	}
	return res
}

// heartbeatClient is the client process: register every node (64 at a
// time), then heartbeat each every spec.Every at its own phase for
// spec.For, and write the latencies' summary to spec.Results.
func heartbeatClient(specPath string) error {
	raw, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var spec hbSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return err
	}
	n := len(spec.Nodes)
	tr := &http.Transport{MaxIdleConns: n + 100, MaxIdleConnsPerHost: n + 100, IdleConnTimeout: time.Hour}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	toks := make([]string, n)
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, 64)
	for i, nd := range spec.Nodes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var r fleetapi.RegisterResponse
			if err := postJSON(hc, spec.URL+fleetapi.PathRegister, joinToken,
				fleetapi.RegisterRequest{Name: nd.Name, ProviderID: nd.ProviderID, Capacity: fleetapi.Capacity{Slots: 2},
					Identity: fleetapi.Identity{BootstrapToken: nd.BootstrapToken}}, &r); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			toks[i] = r.NodeToken
		})
	}
	wg.Wait()
	reg := time.Since(start)
	if len(errs) > 0 {
		return fmt.Errorf("register: %w (and %d more)", errs[0], len(errs)-1)
	}
	var lat, steady []time.Duration
	deadline := time.Now().Add(spec.For)
	for i, nd := range spec.Nodes {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			time.Sleep(time.Duration(rng.Int64N(int64(spec.Every))))
			var mine, later []time.Duration
			next := time.Now()
			for time.Now().Before(deadline) {
				hb := fleetapi.Heartbeat{Name: nd.Name, ProviderID: nd.ProviderID, Slots: 2, Busy: rng.IntN(3),
					Running: []fleetapi.RunningJob{{ID: strconv.Itoa(i), Source: "gitlab", Since: time.Now()}}}
				t0 := time.Now()
				var r fleetapi.HeartbeatResponse
				if err := postJSON(hc, spec.URL+fleetapi.PathHeartbeat, toks[i], hb, &r); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				d := time.Since(t0)
				if len(mine) > 0 {
					later = append(later, d)
				}
				mine = append(mine, d)
				next = next.Add(spec.Every)
				time.Sleep(time.Until(next))
			}
			mu.Lock()
			lat = append(lat, mine...)
			steady = append(steady, later...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("heartbeat: %w (and %d more)", errs[0], len(errs)-1)
	}
	slices.Sort(lat)
	slices.Sort(steady)
	q := func(l []time.Duration, p float64) float64 {
		if len(l) == 0 {
			return 0
		}
		return ms(l[min(len(l)-1, int(p*float64(len(l))))])
	}
	res := hbResult{N: len(lat), P50: q(lat, 0.50), P99: q(lat, 0.99), SteadyP99: q(steady, 0.99), Max: q(lat, 1),
		RegisterSeconds: reg.Seconds(), ClientRSS: peakRSS("self")}
	out, _ := json.Marshal(res)
	return os.WriteFile(spec.Results, out, 0o600)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

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

// peakRSS reads VmHWM from /proc/<pid>/status (bytes).
func peakRSS(pid string) int64 {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10
		}
	}
	return 0
}
