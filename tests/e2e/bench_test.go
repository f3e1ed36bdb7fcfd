package e2e

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// BenchmarkJobOverhead measures, per job: payload handed out → first
// script byte at GitLab, as a ratio to a raw engine create+attach+start of
// the same image until its first byte, measured in the same run (goal ≤
// 1.3×); and script output seen → final state acknowledged (goal ≤ 200 ms).
func BenchmarkJobOverhead(b *testing.B) {
	raw := rawFirstByte(b)
	b.ReportMetric(float64(raw.Microseconds())/1000, "raw-first-byte-ms")
	for _, mode := range []struct {
		name string
		vars []gitlabtest.Variable
	}{
		{"fetch", nil},
		{"nogit", []gitlabtest.Variable{{Key: "GIT_STRATEGY", Value: "none"}}},
	} {
		srv := gitlabtest.New(b, gitlabtest.WithLongPollHold(30*time.Second))
		srv.AddRepo(b, "group/project", map[string]string{"README.md": "x\n"})
		a := startAgent(b, srv, agentConfig{Concurrent: 1})
		// Warm up: the first job pays for the first git clone.
		srv.WaitFinal(b, srv.Enqueue(gitlabtest.JobSpec{Script: []string{"true"}}), time.Minute)
		var first, final time.Duration
		for range b.N {
			id := srv.Enqueue(gitlabtest.JobSpec{Variables: mode.vars, Script: []string{"echo FIRST-BYTE-$((6*7))"}})
			var handed time.Time
			for {
				r := srv.Job(id)
				if handed.IsZero() && r.Token != "" {
					handed = time.Now()
				}
				if bytes.Contains(r.Trace, []byte("FIRST-BYTE-42")) {
					first += time.Since(handed)
					break
				}
				time.Sleep(500 * time.Microsecond)
			}
			seen := time.Now()
			for !srv.Job(id).State.Final() {
				time.Sleep(500 * time.Microsecond)
			}
			final += time.Since(seen)
		}
		n := time.Duration(b.N)
		b.ReportMetric(float64((first/n).Microseconds())/1000, mode.name+"-first-byte-ms")
		b.ReportMetric(float64(first/n)/float64(raw), mode.name+"-ratio-vs-raw")
		b.ReportMetric(float64((final/n).Microseconds())/1000, mode.name+"-exit-to-final-ms")
		_ = a.stop(time.Minute)
	}
}

// rawFirstByte is the baseline: the engine API alone.
func rawFirstByte(b *testing.B) time.Duration {
	c := dockerClient(b)
	ctx := context.Background()
	const runs = 5
	var total time.Duration
	for range runs {
		start := time.Now()
		cr, err := c.ContainerCreate(ctx, &container.Config{Image: testImage, Cmd: []string{"echo", "x"}, AttachStdout: true}, nil, nil, nil, "")
		if err != nil {
			b.Fatal(err)
		}
		att, err := c.ContainerAttach(ctx, cr.ID, container.AttachOptions{Stream: true, Stdout: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.ContainerStart(ctx, cr.ID, container.StartOptions{}); err != nil {
			b.Fatal(err)
		}
		one := make([]byte, 1)
		if _, err := att.Reader.Read(one); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		att.Close()
		_ = c.ContainerRemove(ctx, cr.ID, container.RemoveOptions{Force: true})
	}
	return total / runs
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
