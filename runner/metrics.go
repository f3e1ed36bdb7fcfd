package runner

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the agent's Prometheus metrics, on a registry of their own.
// A nil *Metrics is valid and records nothing.
type Metrics struct {
	jobsRunning   *prometheus.GaugeVec
	jobsTotal     *prometheus.CounterVec
	jobDuration   *prometheus.HistogramVec
	queueDuration *prometheus.HistogramVec
	concurrent    prometheus.Gauge
	busy          prometheus.Gauge
	limit         *prometheus.GaugeVec
	apiRequests   *prometheus.CounterVec
	apiDuration   *prometheus.HistogramVec
	apiRetries    *prometheus.CounterVec
	conditions    *prometheus.GaugeVec
	cleaning      *prometheus.GaugeVec
	cleanupFails  *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	jobBuckets := []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200}
	m := &Metrics{
		jobsRunning: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "runfleet_jobs_running", Help: "Jobs running now, by runner.",
		}, []string{"runner"}),
		jobsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_jobs_total", Help: "Jobs finished, by runner, final state and failure reason.",
		}, []string{"runner", "state", "failure_reason"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "runfleet_job_duration_seconds", Help: "Time from accepting a job to its final state.", Buckets: jobBuckets,
		}, []string{"runner"}),
		queueDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "runfleet_job_queue_duration_seconds", Help: "Time jobs waited on the platform before this agent took them.", Buckets: jobBuckets,
		}, []string{"runner"}),
		concurrent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "runfleet_concurrent", Help: "The global concurrent job limit.",
		}),
		busy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "runfleet_slots_busy", Help: "Slots running a job of any source, as the heartbeat reports them (idle runners waiting for a job are not busy).",
		}),
		limit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "runfleet_runner_slots", Help: "Job slots per runner.",
		}, []string{"runner"}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_api_requests_total", Help: "Platform API requests by endpoint and HTTP status (0 = no answer).",
		}, []string{"endpoint", "status"}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "runfleet_api_request_duration_seconds", Help: "Platform API request durations.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"endpoint"}),
		apiRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_api_retries_total", Help: "Platform API request retries by endpoint.",
		}, []string{"endpoint"}),
		conditions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "runfleet_node_condition", Help: "Node conditions in force (1), e.g. Interrupted, Rebalance.",
		}, []string{"condition"}),
		cleaning: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "runfleet_jobs_cleaning", Help: "Finished jobs whose containers, network and volumes are being removed after their slots were freed, by runner.",
		}, []string{"runner"}),
		cleanupFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_job_cleanups_failed_total", Help: "Cleanups of finished jobs that failed (the reaper removes what they left), by runner.",
		}, []string{"runner"}),
	}
	reg.MustRegister(m.jobsRunning, m.jobsTotal, m.jobDuration, m.queueDuration, m.concurrent, m.busy, m.limit,
		m.apiRequests, m.apiDuration, m.apiRetries, m.conditions, m.cleaning, m.cleanupFails)
	return m
}

// ObserveRequest records one platform API request.
func (m *Metrics) ObserveRequest(endpoint string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.apiRequests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	m.apiDuration.WithLabelValues(endpoint).Observe(d.Seconds())
}

// ObserveRetry records one retried platform API request.
func (m *Metrics) ObserveRetry(endpoint string) {
	if m == nil {
		return
	}
	m.apiRetries.WithLabelValues(endpoint).Inc()
}

func (m *Metrics) setConcurrent(n int) {
	if m != nil {
		m.concurrent.Set(float64(n))
	}
}

func (m *Metrics) setBusy(n int) {
	if m != nil {
		m.busy.Set(float64(n))
	}
}

func (m *Metrics) setLimit(runner string, n int) {
	if m != nil {
		m.limit.WithLabelValues(runner).Set(float64(n))
	}
}

func (m *Metrics) jobStarted(runner string) {
	if m != nil {
		m.jobsRunning.WithLabelValues(runner).Inc()
	}
}

func (m *Metrics) jobFinished(runner string, o Outcome, d time.Duration) {
	if m == nil {
		return
	}
	m.jobsRunning.WithLabelValues(runner).Dec()
	m.jobsTotal.WithLabelValues(runner, string(o.State), string(o.FailureReason)).Inc()
	m.jobDuration.WithLabelValues(runner).Observe(d.Seconds())
	if o.Queued > 0 {
		m.queueDuration.WithLabelValues(runner).Observe(o.Queued)
	}
}

func (m *Metrics) setCondition(c string, on bool) {
	if m == nil {
		return
	}
	v := 0.0
	if on {
		v = 1
	}
	m.conditions.WithLabelValues(c).Set(v)
}

func (m *Metrics) cleaningStarted(runner string) {
	if m != nil {
		m.cleaning.WithLabelValues(runner).Inc()
	}
}

func (m *Metrics) cleaningEnded(runner string) {
	if m != nil {
		m.cleaning.WithLabelValues(runner).Dec()
	}
}

func (m *Metrics) cleanupFailed(runner string) {
	if m != nil {
		m.cleanupFails.WithLabelValues(runner).Inc()
	}
}
