package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

func BenchmarkZZPhases(b *testing.B) {
	for _, rig := range benchRigs(b) {
		if os.Getenv("RIG") != "" && rig.name != os.Getenv("RIG") {
			continue
		}
		srv := gitlabtest.New(b, gitlabtest.WithLongPollHold(30*time.Second))
		srv.AddRepo(b, "group/project", map[string]string{"README.md": "x\n"})
		a := rig.start(b, srv, 4)
		var warm []int64
		for range 4 {
			warm = append(warm, srv.Enqueue(gitlabtest.JobSpec{Script: []string{"true"}}))
		}
		for _, id := range warm {
			srv.WaitFinal(b, id, 2*time.Minute)
		}
		mark := len(a.out.String())
		start := uptime(b)
		var ids []int64
		for range 12 {
			ids = append(ids, srv.Enqueue(gitlabtest.JobSpec{Script: []string{"sleep 2"}}))
		}
		var last time.Duration
		for _, id := range ids {
			last = max(last, waitAcked(b, srv, id))
			srv.WaitFinal(b, id, time.Minute)
		}
		fmt.Printf("%s makespan %v\n", rig.name, last-start)
		for _, l := range strings.Split(a.out.String()[mark:], "\n") {
			if strings.Contains(l, "phases") || strings.Contains(l, "job started") || strings.Contains(l, "job finished") {
				fmt.Println(l)
			}
		}
		_ = a.stop(time.Minute)
	}
}
