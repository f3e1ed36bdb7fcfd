package githubhook

import (
	"errors"
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

// Receiver is an http.Handler for GitHub webhook deliveries.
type Receiver struct {
	secret []byte
	log    *slog.Logger
	now    func() time.Time

	deliveries *prometheus.CounterVec

	mu     sync.Mutex
	queued map[int64]queuedJob // by workflow job id
	done   map[int64]time.Time // jobs seen in_progress/completed, so a late "queued" does not resurrect them
}

type queuedJob struct {
	labels []string // sorted
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
	r := &Receiver{
		secret: o.Secret, log: o.Logger, now: o.Now,
		queued: map[int64]queuedJob{}, done: map[int64]time.Time{},
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_github_webhook_deliveries_total",
			Help: "GitHub webhook deliveries by event, action and result (ok, ignored, bad_signature, bad_payload, too_large).",
		}, []string{"event", "action", "result"}),
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(r.deliveries); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// ServeHTTP authenticates, parses and applies one delivery.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	event := github.WebHookType(r)
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
		labels := slices.Clone(ev.WorkflowJob.Labels)
		for i := range labels {
			labels[i] = strings.ToLower(labels[i])
		}
		sort.Strings(labels)
		if _, dup := rc.queued[id]; !dup {
			rc.queued[id] = queuedJob{labels: labels, since: rc.now()}
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

// Queued returns the queued jobs grouped by label set, in a stable order.
func (rc *Receiver) Queued() []policy.QueuedJobs {
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
	return out
}
