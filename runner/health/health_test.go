package health

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	mem := filepath.Join(dir, "meminfo")
	write := func(avail string) {
		if err := os.WriteFile(mem, []byte("MemTotal:       1000000 kB\nMemFree:  1 kB\nMemAvailable:    "+avail+" kB\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("500000")
	tests := []struct {
		name string
		t    Thresholds
		mem  string
		want []string
	}{
		{"healthy", Thresholds{MinFreeDiskBytes: 1, MinFreeDiskPercent: 0.0001, MinAvailMemPercent: 10}, "500000", nil},
		{"disk bytes", Thresholds{MinFreeDiskBytes: 1 << 62}, "500000", []string{DiskPressure}},
		{"disk percent", Thresholds{MinFreeDiskPercent: 100.1}, "500000", []string{DiskPressure}},
		{"memory", Thresholds{MinAvailMemPercent: 10}, "20000", []string{MemoryPressure}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			write(tt.mem)
			st, err := Check([]string{dir}, mem, tt.t)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Conditions) != len(tt.want) {
				t.Fatalf("conditions %v, want %v", st.Conditions, tt.want)
			}
			for _, c := range tt.want {
				if _, ok := st.Conditions[c]; !ok {
					t.Errorf("missing %s in %v", c, st.Conditions)
				}
			}
		})
	}
	if _, err := Check([]string{filepath.Join(dir, "missing")}, "", DefaultThresholds); err == nil {
		t.Error("a missing path was not an error")
	}
	if _, _, err := parseMeminfo(strings.NewReader("garbage\n")); err == nil {
		t.Error("meminfo without MemTotal accepted")
	}
}

type fakeNode struct {
	mu     sync.Mutex
	events []string
}

func (f *fakeNode) Pause(c string) {
	f.mu.Lock()
	f.events = append(f.events, "pause "+c)
	f.mu.Unlock()
}
func (f *fakeNode) Resume(c string) {
	f.mu.Lock()
	f.events = append(f.events, "resume "+c)
	f.mu.Unlock()
}

func TestWatchPausesReclaimsResumes(t *testing.T) {
	dir := t.TempDir()
	mem := filepath.Join(dir, "meminfo")
	if err := os.WriteFile(mem, []byte("MemTotal: 100 kB\nMemAvailable: 1 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// In a bubble the ticker runs on fake time: five intervals pass for
	// certain, whatever the machine's load.
	synctest.Test(t, func(t *testing.T) {
		node := &fakeNode{}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		reclaims := 0
		go func() {
			defer close(done)
			Watch(ctx, []string{dir}, mem, Thresholds{MinAvailMemPercent: 10}, 10*time.Millisecond, node,
				func(_ context.Context, c string) error {
					// Reclaiming frees memory: the condition clears next time.
					_ = os.WriteFile(mem, []byte("MemTotal: 100 kB\nMemAvailable: 50 kB\n"), 0o644)
					reclaims++
					return nil
				}, func(err error) { t.Error(err) })
		}()
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		if reclaims != 1 {
			t.Errorf("reclaimed %d times, want 1", reclaims)
		}
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatal("timed out waiting for Watch to return after its context ended")
		}
		node.mu.Lock()
		defer node.mu.Unlock()
		if strings.Join(node.events, ",") != "pause MemoryPressure,resume MemoryPressure" {
			t.Errorf("events %v", node.events)
		}
	})
}
