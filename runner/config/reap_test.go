package config

import (
	"errors"
	"testing"
	"time"
)

func TestReapInterval(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		want time.Duration
		err  bool
	}{
		{"default", "", DefaultReapInterval, false},
		{"set", "reap_interval = 120\n", 2 * time.Minute, false},
		{"negative", "reap_interval = -1\n", 0, true},
	} {
		c, err := Load(writeFile(t, "concurrent = 1\n"+tc.line), func(string) (string, bool) { return "", false })
		if tc.err {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: err %v, want ErrInvalid", tc.name, err)
			}
			continue
		}
		if err != nil || c.ReapInterval != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.name, c, err, tc.want)
		}
	}
}

func TestSourcesStoreTTL(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		want time.Duration
		err  bool
	}{
		{"default", "", DefaultSourcesStoreTTL, false},
		{"set", "sources_store_ttl = 3600\n", time.Hour, false},
		{"negative", "sources_store_ttl = -1\n", 0, true},
	} {
		body := "[[runners]]\nurl = \"http://h\"\ntoken = \"t\"\n" + tc.line
		c, err := Load(writeFile(t, body), func(string) (string, bool) { return "", false })
		if tc.err {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: err %v, want ErrInvalid", tc.name, err)
			}
			continue
		}
		if err != nil || len(c.Runners) != 1 || c.Runners[0].SourcesStoreTTL != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.name, c, err, tc.want)
		}
	}
}

func TestWarmContainers(t *testing.T) {
	for _, tc := range []struct {
		name          string
		lines         string
		helpers, jobs bool
	}{
		{"default, docker", "", true, false},
		{"default, containerd", "executor = \"containerd\"\n", true, true},
		{"on, docker", "warm_containers = true\n", true, true},
		{"off, containerd", "executor = \"containerd\"\nwarm_containers = false\n", false, false},
	} {
		body := "[[runners]]\nurl = \"http://h\"\ntoken = \"t\"\n" + tc.lines
		c, err := Load(writeFile(t, body), func(string) (string, bool) { return "", false })
		if err != nil || len(c.Runners) != 1 {
			t.Fatalf("%s: %v, %v", tc.name, c, err)
		}
		if r := c.Runners[0]; r.WarmContainers != tc.helpers || r.WarmJobContainers != tc.jobs {
			t.Errorf("%s: warm helpers %t, job containers %t; want %t, %t", tc.name, r.WarmContainers, r.WarmJobContainers, tc.helpers, tc.jobs)
		}
	}
}
