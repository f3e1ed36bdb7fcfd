package githubhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/runfleet/runfleet/autoscaler/policy"
)

var secret = []byte("It's a Secret to Everybody")

// fixture reads a real GitHub workflow_job payload from
// testdata/workflow_job (see testdata/README.md). Call it from the test
// goroutine only: it ends the test when the file is missing.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "workflow_job", name+".payload.json"))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

func sign(body []byte, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// deliveryIDs numbers the deliveries of these tests: like GitHub's GUIDs,
// every delivery has an id of its own.
var deliveryIDs atomic.Int64

// deliver sends a delivery with a fresh X-GitHub-Delivery id.
func deliver(t *testing.T, rc *Receiver, event string, body []byte, sig string) int {
	t.Helper()
	return deliverID(t, rc, event, fmt.Sprintf("72d3162e-cc78-11e3-81ab-%012d", deliveryIDs.Add(1)), body, sig)
}

// deliverID sends a delivery with the given X-GitHub-Delivery id ("" for
// none) and signature header ("" for none).
func deliverID(t *testing.T, rc *Receiver, event, id string, body []byte, sig string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	if id != "" {
		req.Header.Set("X-GitHub-Delivery", id)
	}
	if sig != "" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	w := httptest.NewRecorder()
	rc.ServeHTTP(w, req)
	return w.Code
}

func queued(t *testing.T, rc *Receiver) []policy.QueuedJobs {
	t.Helper()
	q, err := rc.Queued(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func total(t *testing.T, rc *Receiver) int {
	n := 0
	for _, q := range queued(t, rc) {
		n += q.Count
	}
	return n
}

func TestReceiverSequence(t *testing.T) {
	reg := prometheus.NewRegistry()
	rc, err := New(Options{Secret: secret, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		event    string
		body     []byte
		sig      string // "" = sign with the secret
		wantCode int
		wantQ    int
	}{
		{"queued", "workflow_job", fixture(t, "queued"), "", 202, 1},
		{"duplicate delivery", "workflow_job", fixture(t, "queued"), "", 202, 1},
		{"queued self-hosted", "workflow_job", fixture(t, "queued.with-deployment"), "", 202, 2},
		{"waiting is not runnable", "workflow_job", fixture(t, "waiting"), "", 202, 1},
		{"bad signature", "workflow_job", fixture(t, "queued.with-deployment"), sign(fixture(t, "queued.with-deployment"), []byte("wrong")), 401, 1},
		{"no signature", "workflow_job", fixture(t, "queued.with-deployment"), "none", 401, 1},
		{"malformed but signed", "workflow_job", []byte(`{"action": "queued", "workflow_job": `), "", 400, 1},
		{"in progress", "workflow_job", fixture(t, "in_progress"), "", 202, 0},
		{"late queued after start is ignored", "workflow_job", fixture(t, "queued"), "", 202, 0},
		{"completed", "workflow_job", fixture(t, "completed.success.with-organization"), "", 202, 0},
		{"ping", "ping", []byte(`{"zen":"Keep it logically awesome."}`), "", 200, 0},
		{"other event ignored", "push", []byte(`{}`), "", 202, 0},
		{"too large", "workflow_job", bytes.Repeat([]byte("x"), MaxBody+1), "", 413, 0},
	}
	for _, s := range steps {
		sig := s.sig
		switch sig {
		case "":
			sig = sign(s.body, secret)
		case "none":
			sig = ""
		}
		if code := deliver(t, rc, s.event, s.body, sig); code != s.wantCode {
			t.Errorf("%s: status %d, want %d", s.name, code, s.wantCode)
		}
		if got := total(t, rc); got != s.wantQ {
			t.Errorf("%s: queued %d, want %d (%+v)", s.name, got, s.wantQ, queued(t, rc))
		}
	}
	if n := testutil.ToFloat64(rc.deliveries.WithLabelValues(eventUnverified, "", "bad_signature")); n != 2 {
		t.Errorf("bad signatures counted %v, want 2", n)
	}
}

func TestQueuedByLabelSet(t *testing.T) {
	rc, err := New(Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	body := fixture(t, "queued.with-deployment")
	deliver(t, rc, "workflow_job", body, sign(body, secret))
	q := queued(t, rc)
	if len(q) != 1 || q[0].Count != 1 || strings.Join(q[0].Labels, ",") != "k8s,self-hosted" {
		t.Fatalf("queued %+v", q)
	}
	if _, err := New(Options{}); err == nil {
		t.Error("a receiver without a secret was created")
	}
}
