package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// watch is what the demo saw of the fleet.
type watch struct {
	seen      map[string]bool // every node name listed by the engine or the control plane
	peak      int
	last      jobCounts
	lastNodes int
	metrics   string // the last /metrics answer
	allDoneAt time.Time
	second    bool // the second burst was sent
}

// secondBurst is the size of the burst sent once the fleet is back to
// zero nodes, to show warm starts.
const secondBurst = 4

// snapshot is one look at the fleet.
type snapshot struct {
	jobs       jobCounts
	status     fleetapi.NodeList
	statusErr  error
	containers int
	metrics    string
}

func (d *demo) look(ctx context.Context) (snapshot, error) {
	var s snapshot
	s.jobs = d.coord.counts()
	insts, err := d.prov.List(ctx)
	if err != nil {
		return s, err
	}
	s.containers = len(insts)
	for _, in := range insts {
		d.w.seen[in.Name] = true
	}
	s.status, s.statusErr = getJSON[fleetapi.NodeList](ctx, d.admin+fleetapi.PathAdminNodes)
	for _, n := range s.status.Nodes {
		d.w.seen[n.Name] = true
	}
	if m, err := getText(ctx, d.admin+"/metrics"); err == nil {
		s.metrics = m
		d.w.metrics = m
	}
	d.w.peak = max(d.w.peak, s.containers)
	d.w.last, d.w.lastNodes = s.jobs, s.containers
	return s, nil
}

// watchUntilDone prints a summary line every interval until every job is
// final and the fleet is back to zero nodes.
func (d *demo) watchUntilDone(ctx context.Context) error {
	d.w.seen = map[string]bool{}
	deadline := time.NewTimer(d.o.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(d.o.Interval)
	defer tick.Stop()
	for {
		s, err := d.look(ctx)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err == nil {
			fmt.Fprintln(d.out, d.line(s))
			if s.jobs.done() && d.w.allDoneAt.IsZero() {
				d.w.allDoneAt = time.Now()
			}
			if s.jobs.done() && s.containers == 0 && s.statusErr == nil && len(s.status.Nodes) == 0 {
				if !d.w.second {
					// A second, smaller burst on the scaled-in fleet: the
					// warm pool's stopped node containers start first.
					d.w.second, d.w.allDoneAt = true, time.Time{}
					n := min(secondBurst, d.o.Jobs)
					fmt.Fprintf(d.out, "       second burst: %d jobs; %g node containers wait stopped in the warm pool\n",
						n, metricSum(s.metrics, "runfleet_fleet_warm_pool_nodes", ""))
					d.coord.enqueue(n, d.o.JobSeconds)
					continue
				}
				return d.final(s)
			}
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(d.out, "interrupted: stopping the control plane and removing the fleet")
			return errInterrupted
		case <-d.cpDone:
			return fmt.Errorf("the control plane exited early: %v", d.cpErr)
		case <-deadline.C:
			return fmt.Errorf("timed out after %v: %d of %d jobs final, %d node container(s) still there",
				d.o.Timeout, d.w.last.Succeeded+d.w.last.Failed, d.w.last.Total, d.w.lastNodes)
		case <-tick.C:
		}
	}
}

// line is the live summary: jobs, nodes by state, wanted vs actual slots.
func (d *demo) line(s snapshot) string {
	el := time.Since(d.start).Round(time.Second)
	j := s.jobs
	byState := map[string]int{}
	for _, n := range s.status.Nodes {
		byState[strings.ToLower(n.State)]++
	}
	var states []string
	for _, st := range []string{"booting", "ready", "draining", "notready"} {
		if byState[st] > 0 {
			states = append(states, fmt.Sprintf("%d %s", byState[st], st))
		}
	}
	nodes := strings.Join(states, " · ")
	if nodes == "" {
		nodes = "none"
	}
	if s.statusErr != nil {
		nodes = "control plane not answering yet"
	}
	return fmt.Sprintf("%5s  jobs %2d queued · %2d running · %2d done · %d failed | nodes %s | slots wanted %g · actual %g | containers %d | boots %d | launches cold %g · warm %g · %g waiting warm",
		el, j.Queued, j.Running, j.Succeeded, j.Failed, nodes,
		metricSum(s.metrics, "runfleet_fleet_wanted_slots", ""), metricSum(s.metrics, "runfleet_fleet_actual_slots", ""),
		s.containers, len(d.w.seen),
		metricSum(s.metrics, "runfleet_fleet_launches_total", `kind="cold"`), metricSum(s.metrics, "runfleet_fleet_launches_total", `kind="warm"`),
		metricSum(s.metrics, "runfleet_fleet_warm_pool_nodes", ""))
}

// final prints the closing summary; failed jobs fail the demo.
func (d *demo) final(s snapshot) error {
	j := s.jobs
	m := d.w.metrics
	boots := metricSum(m, "runfleet_fleet_boot_duration_seconds_count", "")
	meanBoot := "-"
	if boots > 0 {
		meanBoot = (time.Duration(metricSum(m, "runfleet_fleet_boot_duration_seconds_sum", "") / boots * float64(time.Second))).Round(100 * time.Millisecond).String()
	}
	names := make([]string, 0, len(d.w.seen))
	for n := range d.w.seen {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(d.out, `
runfleet demo finished in %v
  jobs        %d/%d succeeded, %d failed (all done after %v)
  node boots  %d (peak %d at once; mean %s from launch to registration)
  scale       %g launch, %g drain, %g terminate events; %g heartbeats
  launches    %g cold (a new container booted), %g warm (a warm-pool container started)
  nodes       %s
`, time.Since(d.start).Round(100*time.Millisecond), j.Succeeded, j.Total, j.Failed, d.w.allDoneAt.Sub(d.start).Round(100*time.Millisecond),
		len(d.w.seen), d.w.peak, meanBoot,
		metricSum(m, "runfleet_fleet_scale_events_total", `kind="launch"`), metricSum(m, "runfleet_fleet_scale_events_total", `kind="drain"`),
		metricSum(m, "runfleet_fleet_scale_events_total", `kind="terminate"`), metricSum(m, "runfleet_fleet_heartbeats_total", ""),
		metricSum(m, "runfleet_fleet_launches_total", `kind="cold"`), metricSum(m, "runfleet_fleet_launches_total", `kind="warm"`),
		strings.Join(names, " "))
	if j.Failed > 0 {
		for _, r := range d.coord.records() {
			if r.State != gitlabtest.StateSuccess || r.FinalUpdates != 1 {
				fmt.Fprintf(d.out, "\njob %d (%s): %s, reason %q, %d final updates; trace:\n%s\n",
					r.ID, r.Name, r.State, r.FailureReason, r.FinalUpdates, lastBytes(r.Trace, 2000))
			}
		}
		return fmt.Errorf("%d of %d jobs did not succeed", j.Failed, j.Total)
	}
	printNext(d.out) // next.go
	return nil
}

// metricSum adds the samples of one series in the Prometheus text format
// whose labels contain match.
func metricSum(text, name, match string) float64 {
	sum := 0.0
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		labels := ""
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			labels, rest = rest[:end+1], rest[end+1:]
		}
		if match != "" && !strings.Contains(labels, match) {
			continue
		}
		if f := strings.Fields(rest); len(f) > 0 {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func get(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return resp, nil
}

func getJSON[T any](ctx context.Context, url string) (T, error) {
	var v T
	resp, err := get(ctx, url)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&v)
	return v, err
}

func getText(ctx context.Context, url string) (string, error) {
	resp, err := get(ctx, url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func lastBytes(b []byte, n int) string {
	if len(b) > n {
		return "…" + string(b[len(b)-n:])
	}
	return string(b)
}
