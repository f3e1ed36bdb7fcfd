package gitlab

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	gl "gitlab.com/gitlab-org/api/client-go"
)

// Limits of a Pipeline Hook delivery.
const (
	// MaxHookBody caps a delivery (a pipeline with a few hundred jobs is
	// well under it).
	MaxHookBody = 1 << 20
	// HookReadTimeout bounds reading one delivery.
	HookReadTimeout = time.Second
)

// hookTimeLayout is the time format of GitLab's webhook payloads
// ("2016-08-12 15:23:28 UTC").
const hookTimeLayout = "2006-01-02 15:04:05 MST"

// PipelineHook receives GitLab's Pipeline Hook webhooks (project or group
// webhooks with pipeline events on): a pipeline's status changed. The
// secret token set on the webhook comes back in X-Gitlab-Token and is
// compared in constant time before anything is parsed. A new pipeline
// starts a run in the forecast at once; then its jobs are listed through
// the API (the payload has no tags for them) before the next pass, by
// RunPipelines. Only pipelines of watched projects are applied (the
// passes end them if their last delivery is lost). Deliveries are
// idempotent: a repeated one changes nothing.
type PipelineHook struct {
	s          *Source
	token      []byte
	deliveries *prometheus.CounterVec
}

// NewPipelineHook returns the webhook handler of s; token is the
// webhook's secret token (required). reg receives the delivery counter
// (nil: none).
func (s *Source) NewPipelineHook(token string, reg prometheus.Registerer) (*PipelineHook, error) {
	if token == "" {
		return nil, errors.New("gitlab pipeline hook: a secret token is required")
	}
	if s.fc == nil {
		return nil, errors.New("gitlab pipeline hook: the source has no Forecast to feed")
	}
	h := &PipelineHook{s: s, token: []byte(token), deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runfleet_gitlab_pipeline_hook_deliveries_total",
		Help: "GitLab Pipeline Hook deliveries by result (ok, ignored: not a pipeline event, unwatched: a project not watched, bad_token, bad_request, bad_payload, too_large).",
	}, []string{"result"})}
	if reg != nil {
		// The hooks of several instances count together.
		var are prometheus.AlreadyRegisteredError
		if err := reg.Register(h.deliveries); errors.As(err, &are) {
			h.deliveries = are.ExistingCollector.(*prometheus.CounterVec)
		} else if err != nil {
			return nil, fmt.Errorf("gitlab pipeline hook: %w", err)
		}
	}
	return h, nil
}

func (h *PipelineHook) fail(w http.ResponseWriter, code int, result, msg string) {
	h.deliveries.WithLabelValues(result).Inc()
	http.Error(w, msg, code)
}

// ServeHTTP checks, parses and applies one delivery.
func (h *PipelineHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(HookReadTimeout))
	if r.Method != http.MethodPost {
		h.fail(w, http.StatusMethodNotAllowed, "bad_request", "POST only")
		return
	}
	if subtle.ConstantTimeCompare([]byte(gl.HookEventToken(r)), h.token) != 1 {
		h.fail(w, http.StatusUnauthorized, "bad_token", "bad X-Gitlab-Token")
		return
	}
	if gl.HookEventType(r) != gl.EventTypePipeline {
		// A webhook with more events on: nothing for us, nothing to retry.
		h.deliveries.WithLabelValues("ignored").Inc()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxHookBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.fail(w, http.StatusRequestEntityTooLarge, "too_large", "payload too large")
			return
		}
		h.fail(w, http.StatusBadRequest, "bad_request", "reading the payload")
		return
	}
	parsed, err := gl.ParseWebhook(gl.EventTypePipeline, body)
	ev, ok := parsed.(*gl.PipelineEvent)
	if err != nil || !ok || ev.ObjectAttributes.ID == 0 || ev.Project.ID == 0 || ev.ObjectAttributes.Status == "" {
		h.fail(w, http.StatusBadRequest, "bad_payload", "malformed Pipeline Hook payload")
		return
	}
	if !h.s.watches(ev.Project.ID, ev.Project.PathWithNamespace) {
		// Its pipelines would never be listed again: nothing would end
		// them if their last delivery were lost.
		h.deliveries.WithLabelValues("unwatched").Inc()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	h.s.hooked(ev)
	h.deliveries.WithLabelValues("ok").Inc()
	w.WriteHeader(http.StatusAccepted)
}

// watches reports whether the source lists the project's pipelines: a
// configured project (by id or path), a project of a group as last
// listed, or any project in instance mode.
func (s *Source) watches(id int64, path string) bool {
	if s.instance {
		return true
	}
	s.resolveMu.Lock()
	defer s.resolveMu.Unlock()
	sid := strconv.FormatInt(id, 10)
	for _, list := range [][]string{s.projects, s.resolved} {
		if slices.Contains(list, sid) || (path != "" && slices.Contains(list, path)) {
			return true
		}
	}
	return false
}

// hooked starts the forecast's run of a new active pipeline and asks
// RunPipelines to list it (or to finish it, when it ended).
func (s *Source) hooked(ev *gl.PipelineEvent) {
	a := ev.ObjectAttributes
	pl := &gl.PipelineInfo{ID: a.ID, IID: a.IID, ProjectID: ev.Project.ID, Status: a.Status, Source: a.Source, Ref: a.Ref, SHA: a.SHA, Name: a.Name}
	if t, err := time.Parse(hookTimeLayout, a.CreatedAt); err == nil {
		pl.CreatedAt = &t
	} else if t, err := time.Parse(time.RFC3339, a.CreatedAt); err == nil {
		pl.CreatedAt = &t
	}
	if slices.Contains(activeStatuses, gl.BuildStateValue(a.Status)) {
		s.mu.Lock()
		_, evs := s.trackLocked(pl, s.now())
		s.observe(evs)
		s.mu.Unlock()
		s.flush()
	}
	select {
	case s.refresh <- pl:
	default: // full: the next pass lists it
	}
}
