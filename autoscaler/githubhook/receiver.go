package githubhook

import (
	"cmp"
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

// Defaults of the delivery checks (Options override them).
const (
	// DefaultReplayWindow is how long a delivery id is remembered: as long
	// as finished jobs are, so a replayed "queued" cannot resurrect one.
	DefaultReplayWindow = 24 * time.Hour
	// DefaultMaxDeliveryIDs bounds the remembered delivery ids (~100 B
	// each); past it the oldest are forgotten first.
	DefaultMaxDeliveryIDs = 100_000
	// DefaultUnwatchedTTL is how long a queued job of a repository the
	// reconcile does not watch is counted: nothing repairs it when its
	// start or end delivery is lost.
	DefaultUnwatchedTTL = 6 * time.Hour
	// maxDeliveryID caps the X-GitHub-Delivery header (GitHub sends a
	// 36-character GUID).
	maxDeliveryID = 64
)

// Label values of runfleet_github_webhook_deliveries_total that do not
// come from a verified delivery.
const (
	eventUnverified = "unverified" // the signature was not (yet) checked or failed
	eventUnknown    = "unknown"    // signed, but not an event GitHub sends
	actionOther     = "other"
)

// workflowJobActions are the actions GitHub sends for workflow_job.
var workflowJobActions = []string{"queued", "in_progress", "completed", "waiting"}

// Receiver is an http.Handler for GitHub webhook deliveries.
type Receiver struct {
	secret       []byte
	log          *slog.Logger
	now          func() time.Time
	known        map[string]bool // event names GitHub sends (go-github's list)
	unwatchedTTL time.Duration

	deliveries *prometheus.CounterVec
	expired    prometheus.Counter

	// Reconcile through the REST API (nil actions: webhooks only).
	actions         Actions
	repos           []string // "owner/name", lowercased
	repairs         *prometheus.CounterVec
	reconcileErrors prometheus.Counter
	lastReconcile   prometheus.Gauge

	mu         sync.Mutex
	queued     map[int64]queuedJob // by workflow job id
	done       map[int64]time.Time // jobs seen in_progress/completed, so a late "queued" does not resurrect them
	seen       *deliverySet        // verified delivery ids, to drop replays
	forecast   Forecast            // nil: no forecast fed (workflow.go)
	fed        feedState           // forecast events passed on
	lastWarn   time.Time           // bad-signature warnings: at most one a minute
	suppressed int                 // bad signatures not logged since lastWarn
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
	// ReplayWindow and MaxDeliveryIDs bound the memory of delivery ids
	// (0: DefaultReplayWindow, DefaultMaxDeliveryIDs).
	ReplayWindow   time.Duration
	MaxDeliveryIDs int
	// UnwatchedTTL drops queued jobs of repositories not in Repos after
	// this long (0: DefaultUnwatchedTTL).
	UnwatchedTTL time.Duration
	// Forecast, when set, is fed the workflow_run and workflow_job
	// deliveries and what Reconcile lists (workflow.go).
	Forecast Forecast
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
	if o.ReplayWindow < 0 || o.MaxDeliveryIDs < 0 || o.UnwatchedTTL < 0 {
		return nil, fmt.Errorf("githubhook: negative replay window %v, delivery ids %d or unwatched TTL %v",
			o.ReplayWindow, o.MaxDeliveryIDs, o.UnwatchedTTL)
	}
	o.ReplayWindow = cmp.Or(o.ReplayWindow, DefaultReplayWindow)
	o.MaxDeliveryIDs = cmp.Or(o.MaxDeliveryIDs, DefaultMaxDeliveryIDs)
	o.UnwatchedTTL = cmp.Or(o.UnwatchedTTL, DefaultUnwatchedTTL)
	var repos []string
	for _, full := range o.Repos {
		owner, name, ok := strings.Cut(full, "/")
		if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("githubhook: repository %q is not owner/name", full)
		}
		repos = append(repos, strings.ToLower(full))
	}
	known := map[string]bool{}
	for _, e := range github.MessageTypes() {
		known[e] = true
	}
	r := &Receiver{
		secret: o.Secret, log: o.Logger, now: o.Now, known: known, unwatchedTTL: o.UnwatchedTTL,
		actions: o.Actions, repos: repos,
		queued: map[int64]queuedJob{}, done: map[int64]time.Time{},
		seen: newDeliverySet(o.ReplayWindow, o.MaxDeliveryIDs), forecast: o.Forecast, fed: newFeedState(),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_github_webhook_deliveries_total",
			Help: "GitHub webhook deliveries by event, action and result (ok, ignored, replayed, bad_request, bad_signature, " +
				"bad_payload, too_large, unknown_event). event is \"unverified\" until the signature is checked and \"unknown\" " +
				"for names GitHub does not send; action is a workflow_job or workflow_run action or \"other\".",
		}, []string{"event", "action", "result"}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "runfleet_github_webhook_expired_total",
			Help: "Queued jobs of repositories the reconcile does not watch, dropped after the unwatched TTL.",
		}),
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
		for _, c := range []prometheus.Collector{r.deliveries, r.expired, r.repairs, r.reconcileErrors, r.lastReconcile} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// ServeHTTP authenticates, checks, parses and applies one delivery. No
// header becomes a metric label before the signature is verified, and
// after it only names from fixed lists do.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Not supported by every ResponseWriter (httptest's recorder): then the
	// server's own timeouts apply.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(ReadTimeout))
	if r.Method != http.MethodPost {
		rc.count(eventUnverified, "", "bad_request")
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	// HMAC-SHA256 only: go-github would also take the legacy SHA-1 header,
	// or an "sha1=" value in the SHA-256 header.
	if !strings.HasPrefix(r.Header.Get(github.SHA256SignatureHeader), "sha256=") {
		rc.badSignature(r, "missing or not sha256=")
		http.Error(w, "X-Hub-Signature-256 must be sha256=<hex>", http.StatusUnauthorized)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	payload, err := github.ValidatePayload(r, rc.secret)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			rc.count(eventUnverified, "", "too_large")
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			return
		}
		rc.badSignature(r, err.Error())
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	event := github.WebHookType(r)
	if !rc.known[event] {
		rc.count(eventUnknown, "", "unknown_event")
		http.Error(w, "unknown X-GitHub-Event", http.StatusBadRequest)
		return
	}
	delivery := github.DeliveryID(r)
	if delivery == "" || len(delivery) > maxDeliveryID {
		rc.count(event, "", "bad_request")
		http.Error(w, "missing or oversized X-GitHub-Delivery", http.StatusBadRequest)
		return
	}
	var ev *github.WorkflowJobEvent
	if event == "workflow_job" {
		parsed, err := github.ParseWebHook(event, payload)
		var ok bool
		ev, ok = parsed.(*github.WorkflowJobEvent)
		if err != nil || !ok || ev.WorkflowJob == nil || ev.WorkflowJob.ID == nil || ev.Action == nil {
			rc.count(event, "", "bad_payload")
			http.Error(w, "malformed workflow_job payload", http.StatusBadRequest)
			return
		}
	}
	var run *github.WorkflowRunEvent
	if event == "workflow_run" {
		if run = parseWorkflowRun(payload); run == nil {
			rc.count(event, "", "bad_payload")
			http.Error(w, "malformed workflow_run payload", http.StatusBadRequest)
			return
		}
	}
	// Only a delivery that passed every check uses up its id.
	if !rc.firstDelivery(delivery) {
		rc.count(event, "", "replayed")
		w.WriteHeader(http.StatusAccepted) // already applied: nothing to do, nothing for GitHub to retry
		return
	}
	switch event {
	case "ping":
		rc.count(event, "", "ok")
		w.WriteHeader(http.StatusOK)
	case "workflow_job":
		action := ev.GetAction()
		if !slices.Contains(workflowJobActions, action) {
			action = actionOther
		}
		rc.apply(ev)
		rc.count(event, action, "ok")
		w.WriteHeader(http.StatusAccepted)
	case "workflow_run":
		rc.applyRun(run)
		rc.count(event, runAction(run), "ok")
		w.WriteHeader(http.StatusAccepted)
	default:
		rc.count(event, "", "ignored")
		w.WriteHeader(http.StatusAccepted)
	}
}

// firstDelivery records a verified delivery id and reports whether it is
// seen for the first time within the replay window.
func (rc *Receiver) firstDelivery(id string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.seen.add(id, rc.now())
}

func (rc *Receiver) count(event, action, result string) {
	rc.deliveries.WithLabelValues(event, action, result).Inc()
}

// badSignature counts a delivery that failed authentication and logs at
// most one warning a minute, so a flood of forged deliveries cannot flood
// the log.
func (rc *Receiver) badSignature(r *http.Request, why string) {
	rc.count(eventUnverified, "", "bad_signature")
	now := rc.now()
	rc.mu.Lock()
	if now.Sub(rc.lastWarn) < time.Minute {
		rc.suppressed++
		rc.mu.Unlock()
		return
	}
	n := rc.suppressed
	rc.lastWarn, rc.suppressed = now, 0
	rc.mu.Unlock()
	rc.log.Warn("github webhook delivery refused: bad signature", "reason", why, "remote", r.RemoteAddr, "not_logged_since_last", n)
}

// apply updates the queue from one workflow_job event. Deliveries may
// arrive twice or out of order: a job seen running or done is never
// counted as queued again.
func (rc *Receiver) apply(ev *github.WorkflowJobEvent) {
	id := ev.WorkflowJob.GetID()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	defer rc.feedJobLocked(ev)
	rc.expireUnwatchedLocked()
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
	rc.fed.forget(cutoff)
}

// expireUnwatchedLocked drops queued jobs of repositories the reconcile
// does not watch once they are older than the unwatched TTL: if their
// start or end delivery was lost, nothing else would ever remove them.
func (rc *Receiver) expireUnwatchedLocked() {
	cutoff := rc.now().Add(-rc.unwatchedTTL)
	for id, j := range rc.queued {
		if j.since.Before(cutoff) && !slices.Contains(rc.repos, j.repo) {
			delete(rc.queued, id)
			rc.expired.Inc()
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
	rc.expireUnwatchedLocked()
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
