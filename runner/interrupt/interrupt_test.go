package interrupt

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeIMDS is a strict IMDSv2 on loopback: a token is required, and the
// notices appear when the test sets them.
type fakeIMDS struct {
	mu        sync.Mutex
	action    string // instance-action body, "" = 404
	rebalance string
	tokens    int
}

func (f *fakeIMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut || r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "", http.StatusBadRequest)
			return
		}
		f.tokens++
		_, _ = w.Write([]byte("tok-1"))
		return
	}
	if r.Header.Get("X-aws-ec2-metadata-token") != "tok-1" {
		http.Error(w, "", http.StatusUnauthorized)
		return
	}
	body := ""
	switch r.URL.Path {
	case "/latest/meta-data/spot/instance-action":
		body = f.action
	case "/latest/meta-data/events/recommendations/rebalance":
		body = f.rebalance
	}
	if body == "" {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write([]byte(body))
}

func TestAWS(t *testing.T) {
	f := &fakeIMDS{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := New("aws", srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	steps := []struct {
		name      string
		action    string
		rebalance string
		want      *Notice
	}{
		{"nothing", "", "", nil},
		{"rebalance", "", `{"noticeTime":"2026-11-23T12:00:00Z"}`, &Notice{Kind: Rebalance, Cloud: "aws"}},
		{"terminate wins", `{"action":"terminate","time":"2026-11-23T12:02:00Z"}`, `{"noticeTime":"2026-11-23T12:00:00Z"}`,
			&Notice{Kind: Terminate, Cloud: "aws", At: time.Date(2026, 11, 23, 12, 2, 0, 0, time.UTC)}},
	}
	for _, s := range steps {
		f.mu.Lock()
		f.action, f.rebalance = s.action, s.rebalance
		f.mu.Unlock()
		got, err := c.Check(ctx)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if (got == nil) != (s.want == nil) || got != nil && (got.Kind != s.want.Kind || !got.At.Equal(s.want.At)) {
			t.Errorf("%s: got %+v, want %+v", s.name, got, s.want)
		}
	}
	if f.tokens != 1 {
		t.Errorf("IMDSv2 token fetched %d times, want once (cached)", f.tokens)
	}
	f.mu.Lock()
	f.action = "{not json"
	f.mu.Unlock()
	if _, err := c.Check(ctx); err == nil {
		t.Error("a malformed instance-action was accepted")
	}
}

func TestGCPAndAzure(t *testing.T) {
	mux := http.NewServeMux()
	preempted := "FALSE"
	mux.HandleFunc("/computeMetadata/v1/instance/preempted", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(preempted))
	})
	events := `{"DocumentIncarnation":1,"Events":[]}`
	mux.HandleFunc("/metadata/scheduledevents", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata") != "true" || r.URL.Query().Get("api-version") == "" {
			http.Error(w, "", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(events))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()
	g, _ := New("gcp", srv.URL, nil)
	z, _ := New("azure", srv.URL, nil)
	for _, c := range []Checker{g, z} {
		if n, err := c.Check(ctx); err != nil || n != nil {
			t.Fatalf("quiet: %+v %v", n, err)
		}
	}
	preempted = "TRUE"
	events = `{"DocumentIncarnation":2,"Events":[{"EventId":"x","EventType":"Preempt","ResourceType":"VirtualMachine","NotBefore":"Mon, 23 Nov 2026 12:00:30 GMT"}]}`
	for _, c := range []Checker{g, z} {
		if n, err := c.Check(ctx); err != nil || n == nil || n.Kind != Terminate {
			t.Errorf("preempt: %+v %v", n, err)
		}
	}
	if _, err := New("ibm", "", nil); err == nil {
		t.Error("unknown cloud accepted")
	}
}

func TestWatchNotifiesOncePerKind(t *testing.T) {
	// In a bubble the poll ticker runs on fake time, so each phase lasts
	// six polls whatever the machine's load; the strict fake serves them
	// in process, as a loopback socket would keep the bubble's clock still.
	synctest.Test(t, func(t *testing.T) {
		f := &fakeIMDS{rebalance: `{"noticeTime":"2026-11-23T12:00:00Z"}`}
		c, _ := New("aws", "http://imds.invalid", &http.Client{Transport: inProcess{f}})
		ctx, cancel := context.WithCancel(t.Context())
		var mu sync.Mutex
		var got []Kind
		done := make(chan struct{})
		go func() {
			defer close(done)
			Watch(ctx, c, 10*time.Millisecond, func(n Notice) {
				mu.Lock()
				got = append(got, n.Kind)
				mu.Unlock()
			}, func(err error) { t.Errorf("watch: %v", err) })
		}()
		time.Sleep(60 * time.Millisecond)
		synctest.Wait()
		f.mu.Lock()
		f.action = `{"action":"terminate","time":"2026-11-23T12:02:00Z"}`
		f.mu.Unlock()
		time.Sleep(60 * time.Millisecond)
		synctest.Wait()
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatal("timed out waiting for Watch to return after its context ended")
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 2 || got[0] != Rebalance || got[1] != Terminate {
			t.Errorf("notices %v, want [rebalance terminate]", got)
		}
	})
}

// inProcess is a transport that hands each request to a handler in the
// calling goroutine.
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}
