package gitlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeTraceServer implements GitLab's trace semantics in memory: a patch at
// an offset up to the log's size truncates there and appends; beyond it
// answers 416; a final update whose checksum does not match answers 412.
type fakeTraceServer struct {
	mu        sync.Mutex
	log       []byte
	patches   []patchCall
	updates   []UpdateJobBody
	status    string        // Job-Status on every answer
	interval  time.Duration // X-GitLab-Trace-Update-Interval
	patchErrs []error       // returned (and consumed) before applying patches
	updateFns []func() (UpdateResult, error)
	events    []string
}

type patchCall struct {
	offset int64
	data   string
	at     time.Time
}

func (f *fakeTraceServer) PatchTrace(_ context.Context, _ int64, token string, offset int64, data []byte) (PatchResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if token != "glcbt-token" {
		return PatchResult{}, &StatusError{Endpoint: EndpointPatchTrace, Code: 403}
	}
	f.patches = append(f.patches, patchCall{offset, string(data), time.Now()})
	f.events = append(f.events, fmt.Sprintf("patch %d+%d", offset, len(data)))
	if len(f.patchErrs) > 0 {
		err := f.patchErrs[0]
		f.patchErrs = f.patchErrs[1:]
		if err != nil {
			return PatchResult{}, err
		}
	}
	if offset > int64(len(f.log)) {
		return PatchResult{}, &RangeError{Offset: int64(len(f.log)), JobStatus: f.status}
	}
	f.log = append(f.log[:offset], data...)
	return PatchResult{NewOffset: int64(len(f.log)), JobStatus: f.status, UpdateInterval: f.interval}, nil
}

func (f *fakeTraceServer) UpdateJob(_ context.Context, _ int64, body UpdateJobBody) (UpdateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, body)
	f.events = append(f.events, "update "+body.State)
	if len(f.updateFns) > 0 {
		fn := f.updateFns[0]
		f.updateFns = f.updateFns[1:]
		return fn()
	}
	if body.State != StateRunning && body.State != StatePending {
		want := fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE(f.log))
		if body.Output == nil || body.Output.Checksum != want || body.Output.Bytesize != int64(len(f.log)) {
			return UpdateResult{}, &StatusError{Endpoint: EndpointUpdateJob, Code: http.StatusPreconditionFailed}
		}
	}
	return UpdateResult{Code: http.StatusOK, JobStatus: f.status}, nil
}

func (f *fakeTraceServer) snapshot() (log string, patches []patchCall, updates []UpdateJobBody, events []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return string(f.log), append([]patchCall(nil), f.patches...), append([]UpdateJobBody(nil), f.updates...),
		append([]string(nil), f.events...)
}

func newTestTrace(t *testing.T, f *fakeTraceServer, mod func(*TraceOptions)) *Trace {
	t.Helper()
	opts := TraceOptions{Client: f, JobID: 7, JobToken: "glcbt-token", Secrets: []string{"hunter2hunter2"},
		TokenPrefixes: []string{"glpat-"}}
	if mod != nil {
		mod(&opts)
	}
	tr, err := NewTrace(opts)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTraceFinishMasksAndChecksums(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTraceServer{}
		tr := newTestTrace(t, f, nil)
		for _, w := range []string{"pw=hunt", "er2hun", "ter2 token glpat-abc", "def job=glcbt-token\n"} {
			if _, err := tr.Write([]byte(w)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tr.Finish(t.Context(), FinalResult{State: StateFailed, FailureReason: FailureScript, ExitCode: 2}); err != nil {
			t.Fatal(err)
		}
		log, _, updates, _ := f.snapshot()
		want := "pw=[MASKED] token glpat-[MASKED] job=[MASKED]\n"
		if log != want || string(tr.Bytes()) != want {
			t.Fatalf("server log %q, trace %q, want %q", log, tr.Bytes(), want)
		}
		last := updates[len(updates)-1]
		if last.State != StateFailed || last.FailureReason != FailureScript || last.ExitCode == nil || *last.ExitCode != 2 ||
			last.Output.Checksum != fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE([]byte(want))) ||
			last.Output.Bytesize != int64(len(want)) || last.Token != "glcbt-token" {
			t.Errorf("final update %+v %+v", last, last.Output)
		}
		if tr.Checksum() != last.Output.Checksum || tr.Bytesize() != int64(len(want)) {
			t.Errorf("Checksum %s Bytesize %d", tr.Checksum(), tr.Bytesize())
		}
		if _, err := tr.Write([]byte("late")); !errors.Is(err, ErrTraceClosed) {
			t.Errorf("write after Finish: %v", err)
		}
	})
}

func TestTraceLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTraceServer{}
		tr := newTestTrace(t, f, func(o *TraceOptions) { o.Limit = 10 })
		tr.Write([]byte("0123456"))
		tr.Write([]byte("789abcdef"))
		tr.Write([]byte("more and more"))
		if err := tr.Finish(t.Context(), FinalResult{State: StateSuccess}); err != nil {
			t.Fatal(err)
		}
		want := "0123456789\nJob's log exceeded limit of 10 bytes.\nJob execution will continue but no more output will be collected.\n"
		if log, _, _, _ := f.snapshot(); log != want {
			t.Fatalf("log %q", log)
		}
	})
}

func TestTraceRunSendsIncrementally(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTraceServer{}
		tr := newTestTrace(t, f, func(o *TraceOptions) { o.MaxPatchSize = 4 })
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- tr.Run(t.Context()) }()

		tr.Write([]byte("first"))
		synctest.Wait()
		_, patches, _, _ := f.snapshot()
		if len(patches) != 2 || patches[0].data != "firs" || patches[1].offset != 4 || !patches[1].at.Equal(start) {
			t.Fatalf("first output not sent at once in 4-byte patches: %+v", patches)
		}

		tr.Write([]byte(" second"))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if _, patches, _, _ = f.snapshot(); len(patches) != 2 {
			t.Fatalf("sent before the interval: %+v", patches)
		}
		f.mu.Lock()
		f.interval = 10 * time.Second
		f.mu.Unlock()
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		log, patches, _, _ := f.snapshot()
		if log != "first second" || len(patches) != 4 {
			t.Fatalf("after one interval: %q %+v", log, patches)
		}

		tr.Write([]byte("!"))
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if _, patches, _, _ = f.snapshot(); len(patches) != 4 {
			t.Fatalf("the server's 10 s interval was not honoured: %+v", patches)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if log, _, _, _ = f.snapshot(); log != "first second!" {
			t.Fatalf("log %q", log)
		}

		if err := tr.Finish(t.Context(), FinalResult{State: StateSuccess}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Run returned %v after Finish", err)
		}
	})
}

func TestTraceRangeRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTraceServer{}
		tr := newTestTrace(t, f, nil)
		go tr.Run(t.Context())
		tr.Write([]byte("hello "))
		synctest.Wait()
		// The server loses part of the log.
		f.mu.Lock()
		f.log = f.log[:2]
		f.mu.Unlock()
		tr.Write([]byte("world"))
		time.Sleep(DefaultUpdateInterval)
		synctest.Wait()
		log, patches, _, _ := f.snapshot()
		if log != "hello world" {
			t.Fatalf("log %q after 416, patches %+v", log, patches)
		}
		if p := patches[len(patches)-1]; p.offset != 2 || p.data != "llo world" {
			t.Errorf("resume patch %+v", p)
		}
		if err := tr.Finish(t.Context(), FinalResult{State: StateSuccess}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestTraceFinalRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTraceServer{updateFns: []func() (UpdateResult, error){
			func() (UpdateResult, error) {
				return UpdateResult{Code: http.StatusAccepted, UpdateInterval: 5 * time.Second}, nil
			},
			func() (UpdateResult, error) {
				return UpdateResult{}, &StatusError{Endpoint: EndpointUpdateJob, Code: 502}
			},
			func() (UpdateResult, error) {
				return UpdateResult{}, &transportError{"x", errors.New("connection reset")}
			},
		}}
		f.patchErrs = []error{&StatusError{Endpoint: EndpointPatchTrace, Code: 503, RetryAfter: 20 * time.Second}}
		tr := newTestTrace(t, f, nil)
		tr.Write([]byte("log"))
		start := time.Now()
		if err := tr.Finish(t.Context(), FinalResult{State: StateSuccess}); err != nil {
			t.Fatal(err)
		}
		log, _, updates, events := f.snapshot()
		if log != "log" || len(updates) != 4 {
			t.Fatalf("log %q events %v", log, events)
		}
		// 20 s Retry-After on the patch, 5 s after the 202, then backoff.
		if d := time.Since(start); d < 25*time.Second || d > time.Minute {
			t.Errorf("took %v", d)
		}
		want := []string{"patch 0+3", "patch 0+3", "update success", "update success", "update success", "update success"}
		if fmt.Sprint(events) != fmt.Sprint(want) {
			t.Errorf("events %v, want %v", events, want)
		}
	})
}

func TestTraceResendOn412(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTraceServer{}
		tr := newTestTrace(t, f, nil)
		go tr.Run(t.Context())
		tr.Write([]byte("abcdef"))
		synctest.Wait()
		f.mu.Lock()
		f.log[1] = 'X' // the server's copy got corrupted
		f.mu.Unlock()
		if err := tr.Finish(t.Context(), FinalResult{State: StateSuccess}); err != nil {
			t.Fatal(err)
		}
		log, _, _, events := f.snapshot()
		want := []string{"patch 0+6", "update success", "patch 0+6", "update success"}
		if log != "abcdef" || fmt.Sprint(events) != fmt.Sprint(want) {
			t.Fatalf("log %q events %v", log, events)
		}
	})
}

func TestTraceFinalGivesUp(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr error
		tries   int
	}{
		{"403 is final", &StatusError{Endpoint: EndpointUpdateJob, Code: 403}, ErrJobNotRunning, 1},
		{"400 is final", &StatusError{Endpoint: EndpointUpdateJob, Code: 400}, nil, 1},
		{"500 until the deadline", &StatusError{Endpoint: EndpointUpdateJob, Code: 500}, context.DeadlineExceeded, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeTraceServer{}
				for range 100 {
					f.updateFns = append(f.updateFns, func() (UpdateResult, error) { return UpdateResult{}, tc.err })
				}
				tr := newTestTrace(t, f, func(o *TraceOptions) { o.FinalTimeout = time.Minute })
				start := time.Now()
				err := tr.Finish(t.Context(), FinalResult{State: StateSuccess})
				if err == nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				_, _, updates, _ := f.snapshot()
				if tc.tries > 0 && len(updates) != tc.tries {
					t.Errorf("%d tries, want %d", len(updates), tc.tries)
				}
				if tc.tries < 0 && (time.Since(start) != time.Minute || len(updates) < 3) {
					t.Errorf("gave up after %v and %d tries", time.Since(start), len(updates))
				}
			})
		})
	}
}

func TestTraceKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTraceServer{}
		tr := newTestTrace(t, f, nil)
		go tr.Run(t.Context())
		tr.Write([]byte("x"))
		time.Sleep(29 * time.Second)
		synctest.Wait()
		if _, _, updates, _ := f.snapshot(); len(updates) != 0 {
			t.Fatalf("keep-alive too early: %+v", updates)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		_, _, updates, _ := f.snapshot()
		if len(updates) != 1 || updates[0].State != StateRunning || updates[0].Output.Checksum != tr.Checksum() ||
			updates[0].Output.Bytesize != 1 {
			t.Fatalf("keep-alive %+v", updates)
		}
		tr.Finish(t.Context(), FinalResult{State: StateSuccess})
	})
}

func TestTraceJobStatus(t *testing.T) {
	tests := []struct {
		name      string
		status    string
		patchErr  error
		canceling bool
		aborted   bool
	}{
		{"running", JobStatusRunning, nil, false, false},
		{"canceling", JobStatusCanceling, nil, true, false},
		{"canceled", JobStatusCanceled, nil, false, true},
		{"failed", JobStatusFailed, nil, false, true},
		{"403", "", &StatusError{Endpoint: EndpointPatchTrace, Code: 403}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeTraceServer{status: tc.status, patchErrs: []error{tc.patchErr}}
				tr := newTestTrace(t, f, nil)
				done := make(chan error, 1)
				go func() { done <- tr.Run(t.Context()) }()
				tr.Write([]byte("output"))
				synctest.Wait()
				if got := chanClosed(tr.Canceling()); got != tc.canceling {
					t.Errorf("canceling = %v", got)
				}
				if got := chanClosed(tr.Aborted()); got != tc.aborted {
					t.Errorf("aborted = %v", got)
				}
				if tc.aborted {
					if err := <-done; !errors.Is(err, ErrJobNotRunning) || !errors.Is(tr.AbortErr(), ErrJobNotRunning) {
						t.Errorf("Run = %v, AbortErr = %v", err, tr.AbortErr())
					}
				}
				if err := tr.Finish(t.Context(), FinalResult{State: StateFailed}); err != nil {
					t.Fatal(err)
				}
				_, _, updates, _ := f.snapshot()
				if tc.aborted != (len(updates) == 0) {
					t.Errorf("final updates %+v", updates)
				}
			})
		})
	}
}

func chanClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestTraceOverHTTP runs a trace through the real client and an HTTP server.
func TestTraceOverHTTP(t *testing.T) {
	var mu sync.Mutex
	var log []byte
	var final map[string]any
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.Method {
		case http.MethodPatch:
			var start, end int
			fmt.Sscanf(r.Header.Get("Content-Range"), "%d-%d", &start, &end)
			body := make([]byte, end-start+1)
			r.Body.Read(body)
			log = append(log[:start], body...)
			w.Header().Set("Range", fmt.Sprintf("0-%d", len(log)))
			w.WriteHeader(http.StatusAccepted)
		case http.MethodPut:
			json.NewDecoder(r.Body).Decode(&final)
			w.WriteHeader(http.StatusOK)
		}
	}), nil)
	tr, err := NewTrace(TraceOptions{Client: c, JobID: 1, JobToken: "jt", Secrets: []string{"s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(tr, "a s3cr")
	fmt.Fprintf(tr, "et b\n")
	if err := tr.Finish(t.Context(), FinalResult{State: StateSuccess}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if string(log) != "a [MASKED] b\n" || final["state"] != "success" ||
		final["output"].(map[string]any)["checksum"] != tr.Checksum() || strings.Contains(string(log), "s3cret") {
		t.Errorf("log %q final %v", log, final)
	}
}
