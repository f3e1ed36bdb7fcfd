package e2e

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// BenchmarkJobOverhead measures, per job and engine (Docker, containerd),
// with git sources (fetch) and without (GIT_STRATEGY=none): payload
// handed out → first script command running in the container, as a ratio
// to the raw engine's create+start+first byte of the same image measured
// in the same run, one before each job (goal ≤ 1.3×); and script exit →
// final state acknowledged by GitLab (goal ≤ 200 ms). The script reads
// the kernel's uptime clock, which the container shares with the host, so
// no log flush interval pollutes the figures.
//
// Each runs with warm containers (warm_containers = true, the default on
// containerd: the job starts in the slot's warm job container, the
// sources checked out by its warm helper) and "-cold" without
// (warm_containers = false: the job's containers are created for it).
func BenchmarkJobOverhead(b *testing.B) {
	for _, rig := range benchRigs(b) {
		for _, mode := range []struct {
			name   string
			vars   []gitlabtest.Variable
			runner string
		}{
			{"fetch", nil, "warm_containers = true"},
			{"nogit", []gitlabtest.Variable{{Key: "GIT_STRATEGY", Value: "none"}}, "warm_containers = true"},
			{"fetch-cold", nil, "warm_containers = false"},
			{"nogit-cold", []gitlabtest.Variable{{Key: "GIT_STRATEGY", Value: "none"}}, "warm_containers = false"},
		} {
			name := rig.name + "-" + mode.name
			srv := gitlabtest.New(b, gitlabtest.WithLongPollHold(30*time.Second))
			srv.AddRepo(b, "group/project", map[string]string{"README.md": "x\n"})
			a := rig.start(b, srv, 1, mode.runner)
			// Warm up: the first job pays for the first git clone.
			srv.WaitFinal(b, srv.Enqueue(gitlabtest.JobSpec{Script: []string{"true"}}), 2*time.Minute)
			var first, final, raw time.Duration
			for range b.N {
				time.Sleep(settle)
				raw += rig.firstByte()
				id := srv.Enqueue(gitlabtest.JobSpec{Variables: mode.vars, Script: []string{
					"echo START $(cut -d' ' -f1 /proc/uptime)", "echo END $(cut -d' ' -f1 /proc/uptime)",
				}})
				handed := waitHanded(b, srv, id)
				acked := waitAcked(b, srv, id)
				log := string(srv.WaitFinal(b, id, time.Minute).Trace)
				first += logUptime(b, log, "\nSTART ") - handed
				final += acked - logUptime(b, log, "\nEND ")
			}
			n := time.Duration(b.N)
			b.ReportMetric(ms(raw/n), name+"-raw-first-byte-ms")
			b.ReportMetric(ms(first/n), name+"-first-command-ms")
			b.ReportMetric(float64(first)/float64(raw), name+"-ratio-vs-raw")
			b.ReportMetric(ms(final/n), name+"-exit-to-final-ms")
			_ = a.stop(time.Minute)
		}
	}
}

// settle is how long the benchmarks leave the agent before measuring a
// raw-engine baseline: the previous job's work off its critical path
// (removing its containers, creating the slot's next sources helper)
// must not slow the baseline down, nor the baseline the job.
const settle = 700 * time.Millisecond

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// uptime reads the kernel's uptime clock (10 ms resolution).
func uptime(tb testing.TB) time.Duration {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		tb.Fatal(err)
	}
	return parseUptime(tb, strings.Fields(string(b))[0])
}

func parseUptime(tb testing.TB, s string) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		tb.Fatalf("uptime %q: %v", s, err)
	}
	return time.Duration(f * float64(time.Second))
}

// logUptime finds "<marker><uptime>" in a job log.
func logUptime(tb testing.TB, log, marker string) time.Duration {
	i := strings.Index(log, marker)
	if i < 0 {
		tb.Fatalf("marker %q not in log:\n%s", marker, log)
	}
	rest := log[i+len(marker):]
	return parseUptime(tb, rest[:strings.IndexByte(rest, '\n')])
}

// BenchmarkIdleAgent measures an idle agent with two slots against a
// GitLab that holds long polls for 50 s as GitLab.com does: resident memory
// (goal ≤ 25 MB) and job requests per minute per slot (goal ≤ 2). It
// measures once whatever b.N is: the window itself takes a minute.
func BenchmarkIdleAgent(b *testing.B) {
	srv := gitlabtest.New(b, gitlabtest.WithLongPollHold(50*time.Second))
	a := startAgent(b, srv, agentConfig{Concurrent: 2})
	const window = 65 * time.Second
	time.Sleep(window)
	requests := 0
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/jobs/request") {
			requests++
		}
	}
	rss := rssKiB(a.cmd.Process.Pid)
	b.ReportMetric(float64(rss)/1024, "idle-rss-MiB")
	b.ReportMetric(float64(requests)/window.Minutes()/2, "requests/min/slot")
	_ = a.stop(time.Minute)
}

// rssKiB reads a process's resident set size from /proc.
func rssKiB(pid int) int {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return -1
}
