package githubhook

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// manualClock is the receiver's injected clock, moved by the test and,
// with a step, by every reading (so "before the reconcile started" is
// well defined).
type manualClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *manualClock {
	return &manualClock{t: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
}

// labelValues lists every label value of the delivery counter.
func labelValues(t *testing.T, reg *prometheus.Registry) map[string]bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "runfleet_github_webhook_deliveries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				out[l.GetName()+"="+l.GetValue()] = true
			}
		}
	}
	return out
}

// TestReceiverRefuses: deliveries that fail a check are refused with the
// status GitHub's documentation implies, queue nothing, are counted under
// a fixed label, and never put a header value into a label.
func TestReceiverRefuses(t *testing.T) {
	body := delivery(t, "queued", 7, "acme/app", "self-hosted")
	sha1Sig := func(key []byte) string {
		m := hmac.New(sha1.New, key)
		m.Write(body)
		return "sha1=" + hex.EncodeToString(m.Sum(nil))
	}
	cases := []struct {
		name   string
		method string
		event  string
		id     string // "-" for none
		body   []byte
		sig    string // "-" for none
		legacy string // X-Hub-Signature (SHA-1) header
		code   int
		label  string // event label counted
		result string
	}{
		{name: "GET", method: http.MethodGet, code: 405, label: eventUnverified, result: "bad_request"},
		{name: "no signature", sig: "-", code: 401, label: eventUnverified, result: "bad_signature"},
		{name: "legacy SHA-1 header only", sig: "-", legacy: sha1Sig(secret), code: 401, label: eventUnverified, result: "bad_signature"},
		{name: "valid SHA-1 HMAC in the SHA-256 header", sig: sha1Sig(secret), code: 401, label: eventUnverified, result: "bad_signature"},
		{name: "hex without the sha256= prefix", sig: strings.TrimPrefix(sign(body, secret), "sha256="), code: 401, label: eventUnverified, result: "bad_signature"},
		{name: "upper-case prefix", sig: "SHA256=" + strings.TrimPrefix(sign(body, secret), "sha256="), code: 401, label: eventUnverified, result: "bad_signature"},
		{name: "wrong key", sig: sign(body, []byte("wrong")), code: 401, label: eventUnverified, result: "bad_signature"},
		{name: "wrong key, attacker's event name", event: "x-attacker-1", sig: sign(body, []byte("wrong")), code: 401, label: eventUnverified, result: "bad_signature"},
		{name: "signed, unknown event name", event: "x-attacker-2", code: 400, label: eventUnknown, result: "unknown_event"},
		{name: "signed, empty event name", event: "-", code: 400, label: eventUnknown, result: "unknown_event"},
		{name: "no delivery id", id: "-", code: 400, label: "workflow_job", result: "bad_request"},
		{name: "oversized delivery id", id: strings.Repeat("a", maxDeliveryID+1), code: 400, label: "workflow_job", result: "bad_request"},
		{name: "too large", body: bytes.Repeat([]byte("x"), MaxBody+1), code: 413, label: eventUnverified, result: "too_large"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			rc, err := New(Options{Secret: secret, Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			b := body
			if tc.body != nil {
				b = tc.body
			}
			req := httptest.NewRequest(cmp.Or(tc.method, http.MethodPost), "/webhook", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			if ev := cmp.Or(tc.event, "workflow_job"); ev != "-" {
				req.Header.Set("X-GitHub-Event", ev)
			}
			if id := cmp.Or(tc.id, fmt.Sprintf("d-%d", i)); id != "-" {
				req.Header.Set("X-GitHub-Delivery", id)
			}
			if sig := cmp.Or(tc.sig, sign(b, secret)); sig != "-" {
				req.Header.Set("X-Hub-Signature-256", sig)
			}
			if tc.legacy != "" {
				req.Header.Set("X-Hub-Signature", tc.legacy)
			}
			w := httptest.NewRecorder()
			rc.ServeHTTP(w, req)
			if w.Code != tc.code {
				t.Errorf("status %d, want %d (%s)", w.Code, tc.code, strings.TrimSpace(w.Body.String()))
			}
			if n := total(t, rc); n != 0 {
				t.Errorf("a refused delivery queued %d jobs", n)
			}
			if n := testutil.ToFloat64(rc.deliveries.WithLabelValues(tc.label, "", tc.result)); n != 1 {
				t.Errorf("counted %v under event=%q result=%q, want 1 (labels %v)", n, tc.label, tc.result, labelValues(t, reg))
			}
			for l := range labelValues(t, reg) {
				if strings.Contains(l, "x-attacker") || strings.Contains(l, "aaaa") {
					t.Errorf("a header value became the label %s", l)
				}
			}
		})
	}
}

// TestReceiverLabelsBounded: a flood of deliveries with distinct event
// names, signed or not, adds no series per name.
func TestReceiverLabelsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	rc, err := New(Options{Secret: secret, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"action":"created"}`)
	for i := range 200 {
		key := secret
		if i%2 == 0 {
			key = []byte("forged")
		}
		deliver(t, rc, fmt.Sprintf("event-%d", i), body, sign(body, key))
	}
	if n := testutil.CollectAndCount(rc.deliveries); n != 2 {
		t.Errorf("%d series after 200 distinct event names, want 2 (unverified, unknown): %v", n, labelValues(t, reg))
	}
	// Known events keep their own (bounded) label.
	if code := deliver(t, rc, "push", body, sign(body, secret)); code != http.StatusAccepted {
		t.Errorf("push: %d", code)
	}
	if n := testutil.ToFloat64(rc.deliveries.WithLabelValues("push", "", "ignored")); n != 1 {
		t.Errorf("push counted %v", n)
	}
}

// TestReceiverReplay: a verified delivery id is applied once within the
// replay window; ids are forgotten after the window or past the cap.
func TestReceiverReplay(t *testing.T) {
	queuedBody := delivery(t, "queued", 5, "acme/app", "self-hosted")
	waitingBody := delivery(t, "waiting", 5, "acme/app", "self-hosted")
	type step struct {
		advance time.Duration
		id      string
		body    []byte
		code    int
		want    int // queued after the step
	}
	cases := []struct {
		name  string
		max   int
		steps []step
		// replays counted
		replays float64
	}{
		{
			name: "replayed queued after waiting is dropped",
			steps: []step{
				{id: "a", body: queuedBody, code: 202, want: 1},
				{id: "b", body: waitingBody, code: 202, want: 0},
				{advance: time.Hour, id: "a", body: queuedBody, code: 202, want: 0},
			},
			replays: 1,
		},
		{
			name: "an id past the window is new again",
			steps: []step{
				{id: "a", body: queuedBody, code: 202, want: 1},
				{id: "b", body: waitingBody, code: 202, want: 0},
				{advance: DefaultReplayWindow + time.Second, id: "a", body: queuedBody, code: 202, want: 1},
			},
		},
		{
			name: "past the cap the oldest id is forgotten",
			max:  2,
			steps: []step{
				{id: "a", body: queuedBody, code: 202, want: 1},
				{id: "b", body: waitingBody, code: 202, want: 0},
				{id: "c", body: []byte(`{}`), code: 202, want: 0}, // a ping-less "push"
				{id: "a", body: queuedBody, code: 202, want: 1},
			},
		},
		{
			name: "a refused delivery does not use up its id",
			steps: []step{
				{id: "a", body: []byte(`{"action":"queued","workflow_job":`), code: 400, want: 0},
				{id: "a", body: queuedBody, code: 202, want: 1},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			rc, err := New(Options{Secret: secret, Now: clock.now, MaxDeliveryIDs: tc.max, Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				clock.advance(s.advance)
				event := "workflow_job"
				if string(s.body) == "{}" {
					event = "push"
				}
				if code := deliverID(t, rc, event, s.id, s.body, sign(s.body, secret)); code != s.code {
					t.Errorf("step %d (%s): status %d, want %d", i, s.id, code, s.code)
				}
				if got := total(t, rc); got != s.want {
					t.Errorf("step %d (%s): queued %d, want %d", i, s.id, got, s.want)
				}
			}
			if n := testutil.ToFloat64(rc.deliveries.WithLabelValues("workflow_job", "", "replayed")); n != tc.replays {
				t.Errorf("replays counted %v, want %v", n, tc.replays)
			}
		})
	}
}

// TestReceiverExpiresUnwatched: queued jobs of repositories the reconcile
// does not watch are dropped after the unwatched TTL; watched ones stay
// (the reconcile repairs them).
func TestReceiverExpiresUnwatched(t *testing.T) {
	cases := []struct {
		name    string
		repos   []string
		repo    string
		age     time.Duration
		want    int
		expired float64
	}{
		{name: "unwatched, young", repos: []string{"acme/app"}, repo: "other/repo", age: time.Hour, want: 1},
		{name: "unwatched, past the TTL", repos: []string{"acme/app"}, repo: "other/repo", age: 2*time.Hour + time.Second, want: 0, expired: 1},
		{name: "watched, past the TTL", repos: []string{"acme/app"}, repo: "acme/app", age: 48 * time.Hour, want: 1},
		{name: "watched case-insensitively", repos: []string{"Acme/App"}, repo: "ACME/app", age: 48 * time.Hour, want: 1},
		{name: "no reconcile: everything unwatched", repo: "acme/app", age: 3 * time.Hour, want: 0, expired: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			rc, err := New(Options{Secret: secret, Now: clock.now, Repos: tc.repos, UnwatchedTTL: 2 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			send(t, rc, "queued", 9, tc.repo, "self-hosted")
			clock.advance(tc.age)
			if got := total(t, rc); got != tc.want {
				t.Errorf("queued %d after %v, want %d", got, tc.age, tc.want)
			}
			if n := testutil.ToFloat64(rc.expired); n != tc.expired {
				t.Errorf("expired counted %v, want %v", n, tc.expired)
			}
		})
	}
}

func TestReceiverOptions(t *testing.T) {
	for _, o := range []Options{
		{Secret: secret, ReplayWindow: -time.Second},
		{Secret: secret, MaxDeliveryIDs: -1},
		{Secret: secret, UnwatchedTTL: -time.Second},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}
