package gitlab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testJobJSON = `{"id":42,"token":"glcbt-jobtoken","allow_git_fetch":true,
 "job_info":{"id":42,"name":"build","stage":"test","project_id":7,"project_full_path":"g/p"},
 "git_info":{"repo_url":"https://gitlab-ci-token:glcbt-jobtoken@example/g/p.git","ref":"main","sha":"abc","refspecs":["+refs/heads/main:refs/remotes/origin/main"],"depth":20},
 "runner_info":{"timeout":3600},
 "variables":[{"key":"CI_JOB_ID","value":"42","public":true},{"key":"SECRET","value":"hunter2hunter2","masked":true}],
 "steps":[{"name":"script","script":["echo hi"],"timeout":3600,"when":"on_success","allow_failure":false}],
 "image":{"name":"alpine:3"},"services":[{"name":"postgres:16","alias":"db,pg"}],
 "features":{"trace_sections":true,"token_mask_prefixes":["glpat-"],"failure_reasons":["script_failure"]},
 "some_future_field":{"x":1}}`

// fixedClock returns a fixed Now and real timers.
type fixedClock struct{ now time.Time }

func (c fixedClock) Now() time.Time                 { return c.now }
func (c fixedClock) NewTimer(d time.Duration) Timer { return realClock{}.NewTimer(d) }

// shiftedClock runs at the wall clock's pace from a chosen start.
type shiftedClock struct{ start, wall time.Time }

func newShiftedClock(start time.Time) shiftedClock { return shiftedClock{start, time.Now()} }

func (c shiftedClock) Now() time.Time                 { return c.start.Add(time.Since(c.wall)) }
func (c shiftedClock) NewTimer(d time.Duration) Timer { return realClock{}.NewTimer(d) }

// countingObserver counts requests and retries per endpoint.
type countingObserver struct {
	mu       sync.Mutex
	requests map[string][]int
	retries  map[string]int
}

func (o *countingObserver) ObserveRequest(endpoint string, status int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.requests == nil {
		o.requests = map[string][]int{}
	}
	o.requests[endpoint] = append(o.requests[endpoint], status)
}

func (o *countingObserver) ObserveRetry(endpoint string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.retries == nil {
		o.retries = map[string]int{}
	}
	o.retries[endpoint]++
}

func newTestClient(t *testing.T, h http.Handler, mod func(*ClientOptions)) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	opts := ClientOptions{
		BaseURL: srv.URL, UserAgent: "runfleet/test",
		RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAPIBase(t *testing.T) {
	for in, want := range map[string]string{
		"https://gitlab.example.com":         "https://gitlab.example.com/api/v4/",
		"https://gitlab.example.com/":        "https://gitlab.example.com/api/v4/",
		"https://example.com/gitlab/api/v4/": "https://example.com/gitlab/api/v4/",
		"http://127.0.0.1:8080/sub?x=1#frag": "http://127.0.0.1:8080/sub/api/v4/",
	} {
		u, err := apiBase(in)
		if err != nil || u.String() != want {
			t.Errorf("apiBase(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"", "gitlab.example.com", "ftp://x", "https://"} {
		if _, err := apiBase(bad); err == nil {
			t.Errorf("apiBase(%q) accepted", bad)
		}
	}
}

func TestRequestJob(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v4/jobs/request" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
		if r.Header.Get("User-Agent") != "runfleet/test" || r.Header.Get("RUNNER-TOKEN") != "glrt-x" ||
			len(r.Header.Get("X-Request-Id")) != 32 || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers: %v", r.Header)
		}
		var body RequestJobBody
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Token != "glrt-x" || body.SystemID != "s_0123456789ab" {
			t.Errorf("body %+v %v", body, err)
		}
		switch calls.Add(1) {
		case 1:
			w.Header().Set("X-GitLab-Last-Update", "lu1")
			w.WriteHeader(http.StatusNoContent)
		default:
			if body.LastUpdate != "lu1" {
				t.Errorf("last_update = %q", body.LastUpdate)
			}
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, testJobJSON)
		}
	}), nil)
	ctx := t.Context()
	res, err := c.RequestJob(ctx, RequestJobBody{Token: "glrt-x", SystemID: "s_0123456789ab"})
	if err != nil || res.Job != nil || res.LastUpdate != "lu1" {
		t.Fatalf("204: %+v %v", res, err)
	}
	res, err = c.RequestJob(ctx, RequestJobBody{Token: "glrt-x", SystemID: "s_0123456789ab", LastUpdate: res.LastUpdate})
	if err != nil || res.Job == nil || res.Job.ID != 42 || !bytes.Equal(res.RawJSON, []byte(testJobJSON)) {
		t.Fatalf("201: %+v %v", res, err)
	}
	if got := res.Job.Services[0].Aliases(); len(got) != 2 || got[1] != "pg" {
		t.Errorf("aliases %v", got)
	}
}

func TestStatusErrors(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		call   func(*Client) error
		is     []error
		isNot  []error
		status string
	}{
		{"request 403", 403, requestJob, []error{ErrForbidden}, []error{ErrJobNotRunning}, ""},
		{"request 409", 409, requestJob, []error{ErrConflict}, nil, ""},
		{"request 422", 422, requestJob, []error{ErrOrphaned}, nil, ""},
		{"request 400", 400, requestJob, nil, []error{ErrForbidden, ErrServer}, ""},
		{"update 403", 403, updateJob, []error{ErrForbidden, ErrJobNotRunning}, nil, "canceled"},
		{"update 412", 412, updateJob, []error{ErrResendTrace}, nil, "running"},
		{"update 409", 409, updateJob, []error{ErrConflict}, nil, ""},
		{"patch 403", 403, patchTrace, []error{ErrJobNotRunning}, nil, "failed"},
		{"register 410", 410, register, []error{ErrLegacyRegistrationDisabled}, nil, ""},
		{"verify 403", 403, verify, []error{ErrForbidden}, nil, ""},
		{"download 404", 404, download, []error{ErrNotFound}, nil, ""},
		{"upload 413", 413, upload, []error{ErrTooLarge}, nil, ""},
		{"update 501", 501, updateJob, []error{ErrServer}, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Job-Status", tc.status)
				w.WriteHeader(tc.code)
				io.WriteString(w, `{"message":"nope"}`)
			}), nil)
			err := tc.call(c)
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tc.code || se.JobStatus != tc.status || !strings.Contains(se.Body, "nope") {
				t.Fatalf("err = %#v", err)
			}
			for _, target := range tc.is {
				if !errors.Is(err, target) {
					t.Errorf("%v is not %v", err, target)
				}
			}
			for _, target := range tc.isNot {
				if errors.Is(err, target) {
					t.Errorf("%v is %v", err, target)
				}
			}
			if n.Load() != 1 {
				t.Errorf("%d attempts for a non-retryable status", n.Load())
			}
		})
	}
}

func requestJob(c *Client) error {
	_, err := c.RequestJob(context.Background(), RequestJobBody{Token: "glrt-x"})
	return err
}

func updateJob(c *Client) error {
	_, err := c.UpdateJob(context.Background(), 1, UpdateJobBody{Token: "j", State: StateRunning})
	return err
}

func patchTrace(c *Client) error {
	_, err := c.PatchTrace(context.Background(), 1, "j", 0, []byte("x"))
	return err
}

func register(c *Client) error {
	_, err := c.Register(context.Background(), "reg", RegisterRequest{})
	return err
}

func verify(c *Client) error {
	_, err := c.Verify(context.Background(), "glrt-x", "s_0123456789ab", VersionInfo{})
	return err
}

func download(c *Client) error {
	return c.DownloadArtifacts(context.Background(), 1, "j", io.Discard)
}

func upload(c *Client) error {
	return c.UploadArtifacts(context.Background(), 1, "j", ArtifactUpload{Body: strings.NewReader("zip")})
}

func TestRetries(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		answers []func(http.ResponseWriter)
		wantErr error
		calls   int
		retryIn time.Duration // RetryAfter of the final error
	}{
		{"500 then 200", []func(http.ResponseWriter){answerStatus(500), answerStatus(502), answerStatus(200)}, nil, 3, 0},
		{"429 with Retry-After date then 200", []func(http.ResponseWriter){
			func(w http.ResponseWriter) {
				w.Header().Set("Retry-After", now.Add(time.Second).Format(http.TimeFormat))
				w.WriteHeader(429)
			}, answerStatus(200)}, nil, 2, 0},
		{"429 with RateLimit-ResetTime then 200", []func(http.ResponseWriter){
			func(w http.ResponseWriter) {
				w.Header().Set("RateLimit-ResetTime", now.Add(time.Second).Format(http.TimeFormat))
				w.WriteHeader(429)
			}, answerStatus(200)}, nil, 2, 0},
		{"429 with a long Retry-After surfaces", []func(http.ResponseWriter){
			func(w http.ResponseWriter) { w.Header().Set("Retry-After", "120"); w.WriteHeader(429) }},
			ErrTooManyRequests, 1, 120 * time.Second},
		{"503 until retries are exhausted", []func(http.ResponseWriter){answerStatus(503), answerStatus(503), answerStatus(503), answerStatus(503), answerStatus(503)},
			ErrServer, 4, 0},
		{"404 not retried", []func(http.ResponseWriter){answerStatus(404)}, ErrNotFound, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			obs := &countingObserver{}
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				if i >= len(tc.answers) {
					t.Errorf("unexpected call %d", i+1)
					w.WriteHeader(500)
					return
				}
				tc.answers[i](w)
			}), func(o *ClientOptions) {
				// The date-based waits are 1 s minus 950 ms from this clock.
				o.Clock = newShiftedClock(now.Add(950 * time.Millisecond))
				o.Observer = obs
			})
			start := time.Now()
			_, err := c.UpdateJob(t.Context(), 1, UpdateJobBody{Token: "j", State: StateRunning})
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if RetryAfter(err) != tc.retryIn {
				t.Errorf("RetryAfter = %v, want %v", RetryAfter(err), tc.retryIn)
			}
			if int(n.Load()) != tc.calls {
				t.Errorf("%d calls, want %d", n.Load(), tc.calls)
			}
			if len(obs.requests[EndpointUpdateJob]) != tc.calls || obs.retries[EndpointUpdateJob] != tc.calls-1 {
				t.Errorf("observed %v requests, %d retries", obs.requests, obs.retries[EndpointUpdateJob])
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func answerStatus(code int) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { w.WriteHeader(code) }
}

func TestRequestJobNotRetried(t *testing.T) {
	var n atomic.Int32
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(500)
	}), nil)
	if err := requestJob(c); !errors.Is(err, ErrServer) || !Retryable(err) {
		t.Fatalf("err = %v", err)
	}
	if n.Load() != 1 {
		t.Errorf("jobs/request was tried %d times", n.Load())
	}
}

func TestTransportErrorRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // connection refused from now on
	c, err := NewClient(ClientOptions{BaseURL: srv.URL, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	err = requestJob(c)
	if err == nil || !Retryable(err) {
		t.Fatalf("err = %v, retryable %v", err, Retryable(err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.RequestJob(ctx, RequestJobBody{Token: "x"}); err == nil || Retryable(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}

func TestUpdateJob(t *testing.T) {
	code := 0
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || r.URL.Path != "/api/v4/jobs/42" || r.Header.Get("JOB-TOKEN") != "jt" {
			t.Errorf("%s %s %v", r.Method, r.URL.Path, r.Header)
		}
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		if m["state"] != "failed" || m["exit_code"] != 3.0 || m["failure_reason"] != "script_failure" ||
			m["output"].(map[string]any)["checksum"] != "crc32:0000abcd" {
			t.Errorf("body %v", m)
		}
		w.Header().Set("Job-Status", "canceling")
		w.Header().Set("X-GitLab-Trace-Update-Interval", "7")
		w.WriteHeader(code)
	}), nil)
	three := 3
	for _, code = range []int{200, 202} {
		res, err := c.UpdateJob(t.Context(), 42, UpdateJobBody{Token: "jt", State: StateFailed, FailureReason: FailureScript,
			ExitCode: &three, Output: &JobOutput{Checksum: "crc32:0000abcd", Bytesize: 10}})
		if err != nil || res.Code != code || res.JobStatus != "canceling" || res.UpdateInterval != 7*time.Second {
			t.Errorf("%+v %v", res, err)
		}
	}
}

func TestPatchTrace(t *testing.T) {
	var mu sync.Mutex
	var server []byte
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPatch || r.URL.Path != "/api/v4/jobs/9/trace" || r.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("%s %s %v", r.Method, r.URL.Path, r.Header)
		}
		body, _ := io.ReadAll(r.Body)
		var start, end int
		if _, err := fmt.Sscanf(r.Header.Get("Content-Range"), "%d-%d", &start, &end); err != nil || end-start+1 != len(body) {
			t.Errorf("Content-Range %q for %d bytes", r.Header.Get("Content-Range"), len(body))
		}
		if start > len(server) {
			w.Header().Set("Range", "0-"+strconv.Itoa(len(server)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		server = append(server[:start], body...)
		w.Header().Set("Range", "0-"+strconv.Itoa(len(server)))
		w.Header().Set("Job-Status", "running")
		w.WriteHeader(http.StatusAccepted)
	}), nil)
	ctx := t.Context()
	res, err := c.PatchTrace(ctx, 9, "jt", 0, []byte("hello "))
	if err != nil || res.NewOffset != 6 || res.JobStatus != "running" {
		t.Fatalf("%+v %v", res, err)
	}
	_, err = c.PatchTrace(ctx, 9, "jt", 10, []byte("lost"))
	var re *RangeError
	if !errors.As(err, &re) || re.Offset != 6 || !Retryable(err) {
		t.Fatalf("416: %v", err)
	}
	if res, err = c.PatchTrace(ctx, 9, "jt", re.Offset, []byte("world")); err != nil || res.NewOffset != 11 {
		t.Fatalf("%+v %v", res, err)
	}
	if string(server) != "hello world" {
		t.Errorf("server log %q", server)
	}
}

func TestRegisterVerifyUnregister(t *testing.T) {
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		switch r.Method + " " + r.URL.Path {
		case "POST /api/v4/runners/verify":
			if m["token"] != "glrt-x" || m["system_id"] != "s_0123456789ab" || r.Header.Get("RUNNER-TOKEN") != "glrt-x" {
				t.Errorf("verify body %v", m)
			}
			io.WriteString(w, `{"id":5,"token":"glrt-x","token_expires_at":"2031-01-01T00:00:00.000Z"}`)
		case "POST /api/v4/runners":
			if m["token"] != "reg" || m["tag_list"] != "a,b" || m["run_untagged"] != true || m["description"] != "d" {
				t.Errorf("register body %v", m)
			}
			w.WriteHeader(201)
			io.WriteString(w, `{"id":6,"token":"glrt-new","token_expires_at":null}`)
		case "POST /api/v4/runners/reset_authentication_token":
			w.WriteHeader(201)
			io.WriteString(w, `{"token":"glrt-rot","token_expires_at":"2032-01-01T00:00:00Z"}`)
		case "DELETE /api/v4/runners/managers":
			if m["token"] != "glrt-x" || m["system_id"] != "s_0123456789ab" {
				t.Errorf("unregister manager body %v", m)
			}
			w.WriteHeader(204)
		case "DELETE /api/v4/runners":
			w.WriteHeader(204)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
	}), nil)
	ctx := t.Context()
	v, err := c.Verify(ctx, "glrt-x", "s_0123456789ab", VersionInfo{Name: "runfleet"})
	if err != nil || v.ID != 5 || v.TokenExpiresAt.Year() != 2031 {
		t.Errorf("verify %+v %v", v, err)
	}
	v, err = c.Register(ctx, "reg", RegisterRequest{Description: "d", Tags: []string{"a", "b"}, RunUntagged: true})
	if err != nil || v.ID != 6 || v.Token != "glrt-new" || !v.TokenExpiresAt.IsZero() {
		t.Errorf("register %+v %v", v, err)
	}
	v, err = c.ResetToken(ctx, "glrt-x")
	if err != nil || v.Token != "glrt-rot" || v.TokenExpiresAt.Year() != 2032 {
		t.Errorf("reset %+v %v", v, err)
	}
	if err := c.UnregisterManager(ctx, "glrt-x", "s_0123456789ab"); err != nil {
		t.Error(err)
	}
	if err := c.UnregisterRunner(ctx, "glrt-x"); err != nil {
		t.Error(err)
	}
}

func TestUploadArtifacts(t *testing.T) {
	var hits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v4/jobs/3/artifacts", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Location", "/moved/jobs/3/artifacts?"+r.URL.RawQuery)
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/moved/jobs/3/artifacts", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		q := r.URL.Query()
		if q.Get("artifact_format") != "zip" || q.Get("artifact_type") != "junit" || q.Get("expire_in") != "1 week" ||
			r.Header.Get("JOB-TOKEN") != "jt" {
			t.Errorf("query %v headers %v", q, r.Header)
		}
		f, fh, err := r.FormFile("file")
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(f)
		if fh.Filename != "report.zip" || string(data) != "PK-archive" {
			t.Errorf("file %q %q", fh.Filename, data)
		}
		w.WriteHeader(http.StatusCreated)
	})
	c := newTestClient(t, mux, nil)
	err := c.UploadArtifacts(t.Context(), 3, "jt", ArtifactUpload{Name: "report.zip", Type: "junit", ExpireIn: "1 week",
		Body: strings.NewReader("PK-archive")})
	if err != nil || hits.Load() != 2 {
		t.Fatalf("err %v, hits %d", err, hits.Load())
	}
	// A body that cannot be rewound cannot follow a redirect.
	err = c.UploadArtifacts(t.Context(), 3, "jt", ArtifactUpload{Body: io.MultiReader(strings.NewReader("x"))})
	if !errors.Is(err, ErrBodyNotRewindable) {
		t.Fatalf("err %v", err)
	}
}

func TestDownloadArtifactsRedirectDropsToken(t *testing.T) {
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("JOB-TOKEN") != "" {
			t.Errorf("object storage received the job token")
		}
		io.WriteString(w, "archive-bytes")
	}))
	defer storage.Close()
	var fails atomic.Int32
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("JOB-TOKEN") != "dep-token" || r.URL.Path != "/api/v4/jobs/8/artifacts" {
			t.Errorf("%s %v", r.URL.Path, r.Header)
		}
		if fails.Add(1) == 1 {
			w.WriteHeader(502) // retried
			return
		}
		http.Redirect(w, r, storage.URL+"/bucket/obj?sig=1", http.StatusFound)
	}), nil)
	var buf bytes.Buffer
	if err := c.DownloadArtifacts(t.Context(), 8, "dep-token", &buf); err != nil || buf.String() != "archive-bytes" {
		t.Fatalf("%v %q", err, buf.String())
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c, _ := NewClient(ClientOptions{BaseURL: "http://127.0.0.1", Clock: fixedClock{now}})
	for _, tc := range []struct {
		h    map[string]string
		want time.Duration
	}{
		{map[string]string{"Retry-After": "3"}, 3 * time.Second},
		{map[string]string{"Retry-After": "-3"}, 0},
		{map[string]string{"Retry-After": "junk"}, 0},
		{map[string]string{"Retry-After": now.Add(10 * time.Second).Format(http.TimeFormat)}, 10 * time.Second},
		{map[string]string{"Retry-After": now.Add(-10 * time.Second).Format(http.TimeFormat)}, 0},
		{map[string]string{"RateLimit-ResetTime": now.Add(time.Minute).Format(http.TimeFormat)}, time.Minute},
		{map[string]string{}, 0},
	} {
		h := http.Header{}
		for k, v := range tc.h {
			h.Set(k, v)
		}
		if got := c.retryAfter(h); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.h, got, tc.want)
		}
	}
}
