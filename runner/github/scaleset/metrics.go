package scaleset

import (
	"time"

	actions "github.com/actions/scaleset"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics of one scale set; every series carries scale_set=<name>.
type metrics struct {
	desired      prometheus.Gauge
	jobs         *prometheus.GaugeVec // by state
	runners      *prometheus.GaugeVec // by state
	queueSecs    prometheus.Histogram // queued → assigned to the scale set
	startupSecs  prometheus.Histogram // assigned to the scale set → a runner took it
	runSecs      *prometheus.HistogramVec
	started      prometheus.Counter
	completed    *prometheus.CounterVec
	sessions     prometheus.Counter
	conflicts    prometheus.Counter
	recreated    prometheus.Counter
	failures     prometheus.Counter
	launched     prometheus.Counter
	deregistered prometheus.Counter
}

func newMetrics(name string, reg prometheus.Registerer) (*metrics, error) {
	// From a warm start (under a second) to a cold node boot (minutes).
	jobBuckets := []float64{0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800}
	cl := prometheus.Labels{"scale_set": name}
	m := &metrics{
		desired: prometheus.NewGauge(prometheus.GaugeOpts{Name: "runfleet_github_scaleset_desired_runners",
			Help: "Runners the scale set wants: min(max, min idle + assigned jobs).", ConstLabels: cl}),
		jobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "runfleet_github_scaleset_jobs",
			Help: "Jobs of the scale set by state, from the last statistics (assigned includes running).", ConstLabels: cl}, []string{"state"}),
		runners: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "runfleet_github_scaleset_runners",
			Help: "Runners registered in the scale set by state, from the last statistics.", ConstLabels: cl}, []string{"state"}),
		queueSecs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "runfleet_github_scaleset_job_queue_seconds",
			Help: "Time from a job queued to its assignment to the scale set.", ConstLabels: cl, Buckets: jobBuckets}),
		startupSecs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "runfleet_github_scaleset_job_startup_seconds",
			Help: "Time from a job assigned to the scale set to a runner taking it.", ConstLabels: cl, Buckets: jobBuckets}),
		runSecs: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "runfleet_github_scaleset_job_run_seconds",
			Help: "Time from a runner taking a job to the job's end, by result.", ConstLabels: cl, Buckets: jobBuckets}, []string{"result"}),
		started: prometheus.NewCounter(prometheus.CounterOpts{Name: "runfleet_github_scaleset_jobs_started_total",
			Help: "JobStarted messages received.", ConstLabels: cl}),
		completed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "runfleet_github_scaleset_jobs_completed_total",
			Help: "JobCompleted messages received, by result.", ConstLabels: cl}, []string{"result"}),
		sessions: prometheus.NewCounter(prometheus.CounterOpts{Name: "runfleet_github_scaleset_sessions_total",
			Help: "Message sessions opened.", ConstLabels: cl}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{Name: "runfleet_github_scaleset_session_conflicts_total",
			Help: "Session requests refused with 409 because another session held the scale set.", ConstLabels: cl}),
		recreated: prometheus.NewCounter(prometheus.CounterOpts{Name: "runfleet_github_scaleset_not_found_total",
			Help: "Times the scale set or its session answered 404 and the listener resolved or re-created it.", ConstLabels: cl}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "runfleet_github_scaleset_listener_failures_total",
			Help: "Listener failures other than 404 and 409, retried with backoff.", ConstLabels: cl}),
		launched: prometheus.NewCounter(prometheus.CounterOpts{Name: "runfleet_github_scaleset_runners_launched_total",
			Help: "JIT runners this agent launched for the scale set.", ConstLabels: cl}),
		deregistered: prometheus.NewCounter(prometheus.CounterOpts{Name: "runfleet_github_scaleset_runners_deregistered_total",
			Help: "Registrations removed for runners that exited without taking a job.", ConstLabels: cl}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.desired, m.jobs, m.runners, m.queueSecs, m.startupSecs, m.runSecs,
			m.started, m.completed, m.sessions, m.conflicts, m.recreated, m.failures, m.launched, m.deregistered} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// observeSpan records to-from in seconds when both times are known.
func observeSpan(h prometheus.Observer, from, to time.Time) {
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return
	}
	h.Observe(to.Sub(from).Seconds())
}

// recorder is the library listener's MetricsRecorder.
type recorder struct {
	l *Listener
}

func (r recorder) RecordStatistics(st *actions.RunnerScaleSetStatistic) {
	if st == nil {
		return
	}
	r.l.setStatistics(*st)
	m := r.l.metrics
	m.jobs.WithLabelValues("available").Set(float64(st.TotalAvailableJobs))
	m.jobs.WithLabelValues("acquired").Set(float64(st.TotalAcquiredJobs))
	m.jobs.WithLabelValues("assigned").Set(float64(st.TotalAssignedJobs))
	m.jobs.WithLabelValues("running").Set(float64(st.TotalRunningJobs))
	m.runners.WithLabelValues("registered").Set(float64(st.TotalRegisteredRunners))
	m.runners.WithLabelValues("busy").Set(float64(st.TotalBusyRunners))
	m.runners.WithLabelValues("idle").Set(float64(st.TotalIdleRunners))
}

func (r recorder) RecordJobStarted(msg *actions.JobStarted) {
	m := r.l.metrics
	m.started.Inc()
	observeSpan(m.queueSecs, msg.QueueTime, msg.ScaleSetAssignTime)
	observeSpan(m.startupSecs, msg.ScaleSetAssignTime, msg.RunnerAssignTime)
}

func (r recorder) RecordJobCompleted(msg *actions.JobCompleted) {
	m := r.l.metrics
	result := msg.Result
	if result == "" {
		result = "unknown"
	}
	m.completed.WithLabelValues(result).Inc()
	observeSpan(m.runSecs.WithLabelValues(result), msg.RunnerAssignTime, msg.FinishTime)
}

func (r recorder) RecordDesiredRunners(int) {}
