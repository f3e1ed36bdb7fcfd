package sim

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/runfleet/runfleet/autoscaler/policy"
)

// BootModel draws how long a launched node takes to become ready: a
// log-normal around a median, per offering.
type BootModel struct {
	// Median boot time for offerings without their own.
	Median time.Duration
	// Sigma is the log-normal shape (0: every boot takes the median).
	Sigma float64
	// PerOffering overrides the median by offering key ("type/zone/spot").
	PerOffering map[string]time.Duration
}

// draw returns a boot time for offering o.
func (b BootModel) draw(o policy.Offering, rng *rand.Rand) time.Duration {
	med := b.Median
	if d, ok := b.PerOffering[offeringKey(o)]; ok {
		med = d
	}
	return b.drawMedian(med, rng)
}

// drawMedian draws a time around med with the model's spread.
func (b BootModel) drawMedian(med time.Duration, rng *rand.Rand) time.Duration {
	if b.Sigma <= 0 {
		return med
	}
	f := math.Exp(b.Sigma * rng.NormFloat64())
	f = min(max(f, 0.5), 4) // no instant boots, no endless ones
	return time.Duration(float64(med) * f)
}

// WorldConfig is the random part of the simulated cloud. The same seed
// gives every policy the same world: the pool-wide events (interruption
// bursts, capacity droughts) are drawn from the seed alone, before any
// policy runs.
type WorldConfig struct {
	Seed uint64
	Boot BootModel
	// InterruptionRate is the expected share of spot nodes reclaimed per
	// node-hour (0.02 = 2 %). Reclaims are correlated: an event hits one
	// spot pool (offering) and takes a random 30–100 % of its nodes, and
	// the pool then has no capacity for 5–30 minutes.
	InterruptionRate float64
	// CapacityFailureRate is how often per hour a spot pool runs dry on
	// its own (launches fail with a capacity error for 5–30 minutes).
	CapacityFailureRate float64
	// Notice is the lead time of an interruption (AWS: 2 minutes).
	Notice time.Duration
}

// Pool-wide events, drawn once per world.
type poolEvent struct {
	offering  policy.Offering
	at        time.Time
	fraction  float64 // share of the pool's nodes reclaimed (0: drought only)
	dryUntil  time.Time
	eventSeed uint64
}

type world struct {
	cfg    WorldConfig
	events []poolEvent // sorted by time
}

const meanHitFraction = 0.65 // mean of U(0.3, 1)

// newWorld draws the pool-wide events over [from, to) for offerings.
func newWorld(cfg WorldConfig, offerings []policy.Offering, from, to time.Time) *world {
	if cfg.Notice <= 0 {
		cfg.Notice = 2 * time.Minute
	}
	w := &world{cfg: cfg}
	hours := to.Sub(from).Hours()
	for i, o := range offerings {
		if !o.Spot {
			continue
		}
		rng := rand.New(rand.NewPCG(cfg.Seed, hashKey(offeringKey(o))))
		draw := func(rate float64, reclaim bool) {
			if rate <= 0 {
				return
			}
			for t := rng.ExpFloat64() / rate; t < hours; t += rng.ExpFloat64() / rate {
				at := from.Add(time.Duration(t * float64(time.Hour)))
				ev := poolEvent{offering: o, at: at, eventSeed: rng.Uint64() ^ uint64(i)}
				if reclaim {
					ev.fraction = 0.3 + 0.7*rng.Float64()
				}
				ev.dryUntil = at.Add(5*time.Minute + time.Duration(rng.Float64()*float64(25*time.Minute)))
				w.events = append(w.events, ev)
			}
		}
		draw(cfg.InterruptionRate/meanHitFraction, true)
		draw(cfg.CapacityFailureRate, false)
	}
	slices.SortStableFunc(w.events, func(a, b poolEvent) int { return a.at.Compare(b.at) })
	return w
}

// hits reports whether event ev reclaims the node with sequence number seq.
func (ev poolEvent) hits(seq uint64) bool {
	return rand.New(rand.NewPCG(ev.eventSeed, seq)).Float64() < ev.fraction
}

// dry reports whether offering o has no capacity at now.
func (w *world) dry(o policy.Offering, now time.Time) bool {
	for _, ev := range w.events {
		if ev.at.After(now) {
			break
		}
		if ev.offering == o && ev.dryUntil.After(now) {
			return true
		}
	}
	return false
}

// nodeRNG is the random source of one node (its boot time).
func (w *world) nodeRNG(seq uint64) *rand.Rand {
	return rand.New(rand.NewPCG(w.cfg.Seed^0x9e3779b97f4a7c15, seq))
}

func hashKey(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func offeringKey(o policy.Offering) string {
	m := "on-demand"
	if o.Spot {
		m = "spot"
	}
	return o.InstanceType + "/" + o.Zone + "/" + m
}
