package gitlab

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/config"
)

// scriptedGitLab answers jobs/request from a script of status codes and
// records the last_update of each request.
type scriptedGitLab struct {
	mu       sync.Mutex
	answers  []func(w http.ResponseWriter)
	lastSeen []string
	times    []time.Time
}

func (g *scriptedGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v4/jobs/request" {
		http.NotFound(w, r)
		return
	}
	var body RequestJobBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Token == "" || body.SystemID == "" || !body.Info.Features.Cancelable {
		http.Error(w, "bad request body", http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	g.lastSeen = append(g.lastSeen, body.LastUpdate)
	g.times = append(g.times, time.Now())
	var a func(http.ResponseWriter)
	if len(g.answers) > 0 {
		a, g.answers = g.answers[0], g.answers[1:]
	}
	g.mu.Unlock()
	if a == nil {
		w.Header().Set("X-GitLab-Last-Update", "v-final")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	a(w)
}

func status(code int, hdr ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(code)
	}
}

func newTestSource(t *testing.T, g *scriptedGitLab) *Source {
	t.Helper()
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	c, err := NewClient(ClientOptions{BaseURL: srv.URL, UserAgent: "runfleet/test"})
	if err != nil {
		t.Fatal(err)
	}
	return NewSource(SourceOptions{
		Runner: config.Runner{Name: "t", Token: "glrt-test"}, Client: c, SystemID: "s_0123456789ab",
		CheckInterval: 10 * time.Millisecond,
		Backoff:       &Backoff{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond},
	})
}

func TestSourceBacksOffAndRecovers(t *testing.T) {
	g := &scriptedGitLab{answers: []func(http.ResponseWriter){
		status(500), status(502), status(503),
		status(204, "X-GitLab-Last-Update", "v1"),
		status(429, "Retry-After", "1"),
		status(204, "X-GitLab-Last-Update", "v2"),
	}}
	src := newTestSource(t, g)
	ctx := context.Background()
	for range 7 {
		if _, err := src.Acquire(ctx, runner.Slot{}); !errors.Is(err, runner.ErrNoJob) {
			t.Fatalf("Acquire = %v, want ErrNoJob", err)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.times) != 7 {
		t.Fatalf("%d requests, want 7", len(g.times))
	}
	gap := func(i int) time.Duration { return g.times[i].Sub(g.times[i-1]) }
	// Errors back off growing (50ms, 100ms, 200ms)...
	if gap(1) < 40*time.Millisecond || gap(3) < gap(1) {
		t.Errorf("backoff gaps %v %v %v", gap(1), gap(2), gap(3))
	}
	// ...an answer resets it, and Retry-After is honoured.
	if gap(5) < 900*time.Millisecond {
		t.Errorf("Retry-After 1 s not honoured: gap %v", gap(5))
	}
	if gap(6) > 500*time.Millisecond {
		t.Errorf("no prompt resume after recovery: gap %v", gap(6))
	}
	// The long-poll cursor is sent back.
	if g.lastSeen[4] != "v1" || g.lastSeen[6] != "v2" {
		t.Errorf("last_update sent = %v", g.lastSeen)
	}
}

func TestSourceRecoveryWakesWaitingSlots(t *testing.T) {
	g := &scriptedGitLab{answers: []func(http.ResponseWriter){status(500)}}
	src := newTestSource(t, g)
	src.o.Backoff.Min, src.o.Backoff.Max = 5*time.Second, 5*time.Second
	ctx := context.Background()
	if _, err := src.Acquire(ctx, runner.Slot{}); !errors.Is(err, runner.ErrNoJob) {
		t.Fatal(err)
	}
	// While this slot waits out the backoff, another slot sees GitLab
	// answer: the waiting one must wake, not sleep 5 s.
	start := time.Now()
	time.AfterFunc(100*time.Millisecond, func() { src.succeeded("v9") })
	if _, err := src.Acquire(ctx, runner.Slot{Index: 1}); !errors.Is(err, runner.ErrNoJob) {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 90*time.Millisecond || d > time.Second {
		t.Errorf("slot slept %v after recovery", d)
	}
}

// TestSourceRepollsWokenHold: a poll workhorse held and let go early (the
// queue changed: 204 without a cursor) is followed by another at once,
// not after check_interval; a server that answers every poll that way
// at once is still paced after maxEarlyWakes of them.
func TestSourceRepollsWokenHold(t *testing.T) {
	answers := []func(http.ResponseWriter){status(204, "X-GitLab-Last-Update", "v1")}
	for range maxEarlyWakes + 3 {
		answers = append(answers, status(204))
	}
	g := &scriptedGitLab{answers: answers}
	src := newTestSource(t, g)
	src.o.CheckInterval = 300 * time.Millisecond
	ctx := context.Background()
	for range len(answers) {
		if _, err := src.Acquire(ctx, runner.Slot{}); !errors.Is(err, runner.ErrNoJob) {
			t.Fatalf("Acquire = %v, want ErrNoJob", err)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	gap := func(i int) time.Duration { return g.times[i].Sub(g.times[i-1]) }
	// Poll 1 carries the cursor v1 and is answered as a woken hold: poll
	// 2 follows at once, and so on for maxEarlyWakes early ends.
	for i := 2; i <= maxEarlyWakes+1; i++ {
		if g.lastSeen[i-1] != "v1" {
			t.Fatalf("poll %d sent cursor %q, want v1", i-1, g.lastSeen[i-1])
		}
		if gap(i) > 150*time.Millisecond {
			t.Errorf("poll %d came %v after a woken hold, want at once", i, gap(i))
		}
	}
	for i := maxEarlyWakes + 2; i < len(g.times); i++ {
		if gap(i) < 250*time.Millisecond {
			t.Errorf("poll %d came %v after the %dth early end in a row, want check_interval pacing", i, gap(i), i-1)
		}
	}
}
