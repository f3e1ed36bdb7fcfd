package proctree

import (
	"slices"
	"testing"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		line string
		want procInfo
		ok   bool
	}{
		{"42 (sh) S 7 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 123456 1 2 3", procInfo{ppid: 7, start: 123456}, true},
		{"43 (a) b (c)) R 1 43 43 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 1", procInfo{ppid: 1, start: 99}, true},
		{"44 (z) Z 1 44 44 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 1", procInfo{}, false},
		{"garbage", procInfo{}, false},
	} {
		got, ok := parseStat([]byte(tc.line))
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseStat(%q) = %+v, %t; want %+v, %t", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestStepProcs(t *testing.T) {
	// 10 init; 11 main (oldest child) with 12; 20 the step root with 21->22;
	// 30 an orphan with 31; 40 another exec's root (parent outside).
	procs := map[int]procInfo{
		10: {ppid: 5, start: 1},
		11: {ppid: 10, start: 2}, 12: {ppid: 11, start: 3},
		20: {ppid: 6, start: 10}, 21: {ppid: 20, start: 11}, 22: {ppid: 21, start: 12},
		30: {ppid: 10, start: 13}, 31: {ppid: 30, start: 14},
		40: {ppid: 6, start: 15},
	}
	got := stepProcs(procs, 10, 20)
	slices.Sort(got)
	if want := []int{20, 21, 22, 30, 31}; !slices.Equal(got, want) {
		t.Errorf("stepProcs = %v, want %v", got, want)
	}
	got = stepProcs(procs, 10, 999) // root already gone: orphans only
	slices.Sort(got)
	if want := []int{30, 31}; !slices.Equal(got, want) {
		t.Errorf("stepProcs(gone root) = %v, want %v", got, want)
	}
}

func TestParseOOMKill(t *testing.T) {
	for in, want := range map[string]int64{
		"oom_kill_disable 0\nunder_oom 0\noom_kill 3\n": 3,
		"low 0\nhigh 0\nmax 5\noom 2\noom_kill 2\n":     2,
		"oom_kill_disable 0\n":                          -1,
	} {
		if got := parseOOMKill([]byte(in)); got != want {
			t.Errorf("parseOOMKill(%q) = %d, want %d", in, got, want)
		}
	}
}
