package forecast

import (
	"slices"
	"time"
)

// unannounced counts, per label set, the recent arrivals nothing
// announced: jobs of a run's first wave queued within Config.WaveGap of
// the run's start (a push whose first stage queues with its run, a run
// seen first through its job), and jobs of no run at all. No forecast can launch for them ahead of
// time; only capacity already running serves them at once, so their rate
// is what an idle buffer must be sized for.
type unannounced struct {
	window time.Duration
	at     map[string][]time.Time // label set → arrivals, in time order
}

func (u *unannounced) arrived(labels string, at time.Time) {
	if u.at == nil {
		u.at = map[string][]time.Time{}
	}
	u.at[labels] = append(u.at[labels], at)
}

// perHour is, per label set, the rate of unannounced arrivals: the
// larger of the rate over the window that ends at now and the rate over
// the window that began a day earlier (yesterday's next window: it
// anticipates the morning's rise before the last window shows it).
// Arrivals after now are not counted (the caller may ask about a time
// before its latest event); those older than a day and a window are
// forgotten.
func (u *unannounced) perHour(now time.Time) map[string]float64 {
	out := map[string]float64{}
	for k, ts := range u.at {
		ts = ts[countUpTo(ts, now.Add(-day-u.window)):]
		if len(ts) == 0 {
			delete(u.at, k)
			continue
		}
		u.at[k] = ts
		recent := countUpTo(ts, now) - countUpTo(ts, now.Add(-u.window))
		yesterday := countUpTo(ts, now.Add(-day+u.window)) - countUpTo(ts, now.Add(-day))
		if n := max(recent, yesterday); n > 0 {
			out[k] = float64(n) / u.window.Hours()
		}
	}
	return out
}

const day = 24 * time.Hour

// countUpTo is how many of ts (in time order) are at or before t.
func countUpTo(ts []time.Time, t time.Time) int {
	i, _ := slices.BinarySearchFunc(ts, t, func(a, b time.Time) int {
		if !a.After(b) {
			return -1
		}
		return 1
	})
	return i
}
