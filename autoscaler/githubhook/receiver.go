package githubhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v92/github"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/runfleet/runfleet/autoscaler/policy"
)

// MaxBody is the largest delivery accepted; workflow_job payloads are a
// few KiB (GitHub caps deliveries at 25 MB).
const MaxBody = 1 << 20

// ReadTimeout bounds reading one delivery, so every delivery is answered
// within about a second (GitHub gives up after 10 s).
const ReadTimeout = time.Second

// Receiver is an http.Handler for GitHub webhook deliveries.
type Receiver struct {
	secret []byte
	log    *slog.Logger
	now    func() time.Time

	deliveries *prometheus.CounterVec

	// Reconcile through the REST API (nil actions: webhooks only).
	actions         Actions
	repos           []string // "owner/name", lowercased
	repairs         *prometheus.CounterVec
	reconcileErrors prometheus.Counter
	lastReconcile   prometheus.Gauge

	mu     sync.Mutex
	queued map[int64]queuedJob // by workflow job id
	done   map[int64]time.Time // jobs seen in_progress/completed, so a late "queued" does not resurrect them
}

type queuedJob struct {
	labels []string // lowercased, sorted
	repo   string   // "owner/name", lowercased
	since  time.Time
}

// Options configure a Receiver.
type Options struct {
	// Secret is the webhook secret configured in GitHub. Required.
	Secret []byte
	Logger *slog.Logger
	// Registerer receives the delivery counter; nil disables it.
	Registerer prometheus.Registerer
	Now        func() time.Time
	// Actions lists workflow runs and jobs for Reconcile, normally
	// (*github.Client).Actions; Repos are the "owner/name" repositories
	// reconciled. Both are optional (no reconcile without them).
	Actions Actions
	Repos   []string
}

// New returns a Receiver.
func New(o Options) (*Receiver, error) {
	if len(o.Secret) == 0 {
		return nil, errors.New("githubhook: a webhook secret is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var repos []string
	for _, full := range o.Repos {
		owner, name, ok := strings.Cut(full, "/")
		if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("githubhook: repository %q is not owner/name", full)
		}
		repos = append(repos, strings.ToLower(full))
	}
	r := &Receiver{
		secret: o.Secret, log: o.Logger, now: o.Now,
		actions: o.Actions, repos: repos,
		queued: map[int64]queuedJob{}, done: map[int64]time.Time{},
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_github_webhook_deliveries_total",
			Help: "GitHub webhook deliveries by event, action and result (ok, ignored, bad_signature, bad_payload, too_large).",
		}, []string{"event", "action", "result"}),
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_github_reconcile_repairs_total",
			Help: "Queued-job counts repaired by the REST reconcile: added (lost queued delivery) or removed (lost start/end delivery).",
		}, []string{"change"}),
		reconcileErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "runfleet_github_reconcile_errors_total",
			Help: "Repository listings that failed during a reconcile.",
		}),
		lastReconcile: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "runfleet_github_reconcile_last_success_timestamp_seconds",
			Help: "When a reconcile last completed for every repository.",
		}),
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{r.deliveries, r.repairs, r.reconcileErrors, r.lastReconcile} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// ServeHTTP authenticates, parses and applies one delivery.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	event := github.WebHookType(r)
	// Not supported by every ResponseWriter (httptest's recorder): then the
	// server's own timeouts apply.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(ReadTimeout))
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	// SHA-256 only: go-github would fall back to the legacy SHA-1 header.
	if r.Header.Get(github.SHA256SignatureHeader) == "" {
		rc.count(event, "", "bad_signature")
		http.Error(w, "missing X-Hub-Signature-256", http.StatusUnauthorized)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	payload, err := github.ValidatePayload(r, rc.secret)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			rc.count(event, "", "too_large")
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			return
		}
		rc.count(event, "", "bad_signature")
		rc.log.Warn("github webhook with a bad signature", "event", event, "delivery", github.DeliveryID(r), "remote", r.RemoteAddr)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	switch event {
	case "ping":
		rc.count(event, "", "ok")
		w.WriteHeader(http.StatusOK)
		return
	case "workflow_job":
	default:
		rc.count(event, "", "ignored")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	parsed, err := github.ParseWebHook(event, payload)
	ev, ok := parsed.(*github.WorkflowJobEvent)
	if err != nil || !ok || ev.WorkflowJob == nil || ev.WorkflowJob.ID == nil || ev.Action == nil {
		rc.count(event, "", "bad_payload")
		http.Error(w, "malformed workflow_job payload", http.StatusBadRequest)
		return
	}
	rc.apply(ev)
	rc.count(event, ev.GetAction(), "ok")
	w.WriteHeader(http.StatusAccepted)
}

func (rc *Receiver) count(event, action, result string) {
	rc.deliveries.WithLabelValues(event, action, result).Inc()
}

// apply updates the queue from one workflow_job event. Deliveries may
// arrive twice or out of order: a job seen running or done is never
// counted as queued again.
func (rc *Receiver) apply(ev *github.WorkflowJobEvent) {
	id := ev.WorkflowJob.GetID()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	switch ev.GetAction() {
	case "queued":
		if _, finished := rc.done[id]; finished {
			return
		}
		if _, dup := rc.queued[id]; !dup {
			rc.queued[id] = queuedJob{
				labels: normalizeLabels(ev.WorkflowJob.Labels),
				repo:   strings.ToLower(ev.GetRepo().GetFullName()),
				since:  rc.now(),
			}
		}
	case "in_progress", "completed":
		delete(rc.queued, id)
		rc.done[id] = rc.now()
		rc.forgetOldLocked()
	case "waiting":
		// Waiting for an approval or environment: not runnable yet.
		delete(rc.queued, id)
	}
}

// forgetOldLocked bounds the memory of finished jobs to a day.
func (rc *Receiver) forgetOldLocked() {
	cutoff := rc.now().Add(-24 * time.Hour)
	for id, at := range rc.done {
		if at.Before(cutoff) {
			delete(rc.done, id)
		}
	}
}

// normalizeLabels lowercases and sorts a label set (GitHub matches labels
// case-insensitively).
func normalizeLabels(in []string) []string {
	labels := slices.Clone(in)
	for i := range labels {
		labels[i] = strings.ToLower(labels[i])
	}
	sort.Strings(labels)
	return labels
}

// Queued returns the queued jobs grouped by label set, in a stable order:
// the autoscaler's demand interface.
func (rc *Receiver) Queued(ctx context.Context) ([]policy.QueuedJobs, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	counts := map[string]*policy.QueuedJobs{}
	for _, j := range rc.queued {
		key := strings.Join(j.labels, "\x00")
		q, ok := counts[key]
		if !ok {
			q = &policy.QueuedJobs{Labels: j.labels}
			counts[key] = q
		}
		q.Count++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]policy.QueuedJobs, 0, len(keys))
	for _, k := range keys {
		out = append(out, *counts[k])
	}
	return out, nil
}
