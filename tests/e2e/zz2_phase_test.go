package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

func BenchmarkZZOne(b *testing.B) {
	for _, rig := range benchRigs(b) {
		if os.Getenv("RIG") != "" && rig.name != os.Getenv("RIG") {
			continue
		}
		srv := gitlabtest.New(b, gitlabtest.WithLongPollHold(30*time.Second))
		srv.AddRepo(b, "group/project", map[string]string{"README.md": "x\n"})
		a := rig.start(b, srv, 1)
		srv.WaitFinal(b, srv.Enqueue(gitlabtest.JobSpec{Script: []string{"true"}}), 2*time.Minute)
		mark := len(a.out.String())
		for range 5 {
			raw := rig.firstByte()
			id := srv.Enqueue(gitlabtest.JobSpec{Script: []string{
				"echo START $(cut -d' ' -f1 /proc/uptime)"}})
			handed := waitHanded(b, srv, id)
			log := string(srv.WaitFinal(b, id, time.Minute).Trace)
			fmt.Printf("%s raw %v first %v\n", rig.name, raw, logUptime(b, log, "\nSTART ")-handed)
		}
		for _, l := range strings.Split(a.out.String()[mark:], "\n") {
			if strings.Contains(l, "phases") {
				fmt.Println(l)
			}
		}
		_ = a.stop(time.Minute)
	}
}
