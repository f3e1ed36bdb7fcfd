package controlplane

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the control plane's Prometheus series, on the registry the
// caller passes (never the global one).
type metrics struct {
	nodes          *prometheus.GaugeVec
	wanted         *prometheus.GaugeVec
	actual         *prometheus.GaugeVec
	queued         *prometheus.GaugeVec
	bootSeconds    *prometheus.HistogramVec
	scaleEvents    *prometheus.CounterVec
	capacityErrors *prometheus.CounterVec
	providerErrors *prometheus.CounterVec
	interruptions  *prometheus.CounterVec
	decisions      *prometheus.CounterVec
	authFailures   *prometheus.CounterVec
	authThrottled  prometheus.Counter
	heartbeats     prometheus.Counter
	reconciles     *prometheus.CounterVec
	drainTimeouts  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		nodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "runfleet_fleet_nodes", Help: "Nodes by pool, offering and state.",
		}, []string{"pool", "offering", "state"}),
		wanted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "runfleet_fleet_wanted_slots", Help: "Slots the last plan aimed at, per pool.",
		}, []string{"pool"}),
		actual: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "runfleet_fleet_actual_slots", Help: "Slots of nodes that are booting or ready, per pool.",
		}, []string{"pool"}),
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "runfleet_fleet_queued_jobs", Help: "Queued jobs seen by the last reconcile, per label set.",
		}, []string{"labels"}),
		bootSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "runfleet_fleet_boot_duration_seconds", Help: "Time from launch to the node's registration.",
			Buckets: []float64{1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 300},
		}, []string{"pool"}),
		scaleEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_fleet_scale_events_total", Help: "Scale events carried out, by pool and kind.",
		}, []string{"pool", "kind"}),
		capacityErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_fleet_capacity_errors_total", Help: "Launches refused for lack of capacity, by offering.",
		}, []string{"offering"}),
		providerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_fleet_provider_errors_total", Help: "Provider calls that failed, by operation and kind.",
		}, []string{"op", "kind"}),
		interruptions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_fleet_interruptions_total", Help: "Interruption notices and rebalance recommendations nodes reported.",
		}, []string{"pool", "kind"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_fleet_policy_decisions_total", Help: "Policy decisions, by pool and action (launch counts nodes).",
		}, []string{"pool", "action"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_fleet_auth_failures_total", Help: "Fleet API requests rejected, by reason.",
		}, []string{"reason"}),
		authThrottled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "runfleet_fleet_auth_throttled_total", Help: "Failed authentications answered 429: their source had used up its failure budget.",
		}),
		heartbeats: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "runfleet_fleet_heartbeats_total", Help: "Heartbeats accepted.",
		}),
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_fleet_reconciles_total", Help: "Reconcile passes, by result.",
		}, []string{"result"}),
		drainTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "runfleet_fleet_drain_timeouts_total", Help: "Draining nodes terminated because they never confirmed the drain in time.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.nodes, m.wanted, m.actual, m.queued, m.bootSeconds, m.scaleEvents, m.capacityErrors,
			m.providerErrors, m.interruptions, m.decisions, m.authFailures, m.authThrottled, m.heartbeats, m.reconciles, m.drainTimeouts)
	}
	return m
}

// Auth failure reasons.
const (
	authJoinToken   = "join_token"
	authNodeToken   = "node_token"
	authUnknownNode = "unknown_node"
	authIdentity    = "identity"
	authAdminToken  = "admin_token"
)
