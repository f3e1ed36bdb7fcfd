package scaleset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	actions "github.com/actions/scaleset"
	"github.com/actions/scaleset/listener"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/runfleet/runfleet/runner/clock"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/journal"
)

// API is the part of *actions.Client (github.com/actions/scaleset) the
// listener uses.
type API interface {
	GetRunnerGroupByName(ctx context.Context, name string) (*actions.RunnerGroup, error)
	GetRunnerScaleSet(ctx context.Context, runnerGroupID int, name string) (*actions.RunnerScaleSet, error)
	CreateRunnerScaleSet(ctx context.Context, s *actions.RunnerScaleSet) (*actions.RunnerScaleSet, error)
	UpdateRunnerScaleSet(ctx context.Context, id int, s *actions.RunnerScaleSet) (*actions.RunnerScaleSet, error)
	MessageSessionClient(ctx context.Context, scaleSetID int, owner string, opts ...actions.HTTPOption) (*actions.MessageSessionClient, error)
	GenerateJitRunnerConfig(ctx context.Context, setting *actions.RunnerScaleSetJitRunnerSetting, scaleSetID int) (*actions.RunnerScaleSetJitRunnerConfig, error)
	RemoveRunner(ctx context.Context, runnerID int64) error
	GetRunnerByName(ctx context.Context, name string) (*actions.RunnerReference, error)
	SetSystemInfo(info actions.SystemInfo)
}

var _ API = (*actions.Client)(nil)

// Config describes the scale set and how to scale it.
type Config struct {
	// Name of the scale set; jobs target it with `runs-on: NAME`.
	Name string
	// Labels of the scale set; empty means just Name.
	Labels []string
	// RunnerGroup by name; empty or "default" is the default group (id 1).
	RunnerGroup string
	// MinIdle runners are kept ready beyond the assigned jobs.
	MinIdle int
	// Max runners the scale set may have (also sent as the session's
	// capacity).
	Max int
	// Owner names this listener's session and prefixes the names of the
	// runners it launches (the node name).
	Owner string
	// Slots caps the runners this agent runs at once for the scale set
	// (the Source's Limit); 0 means Max.
	Slots int
	// WorkFolder of launched runners. Default "_work".
	WorkFolder string
	// ConflictWait is the wait before asking again for a session held
	// elsewhere (409). Default 30 s.
	ConflictWait time.Duration
	// RetryWait is the first wait after other failures, doubled up to
	// MaxRetryWait. Defaults 2 s and 2 min.
	RetryWait, MaxRetryWait time.Duration
}

// validName accepts the names GitHub takes for scale sets (and that are
// safe in the client's unescaped query string).
func validName(n string) bool {
	if n == "" || len(n) > 100 || n[0] == '.' || n[0] == '-' || n[0] == '_' {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (c *Config) validate() error {
	if !validName(c.Name) {
		return fmt.Errorf("scaleset: invalid scale set name %q (letters, digits, . _ -; up to 100)", c.Name)
	}
	if c.Max <= 0 || c.MinIdle < 0 || c.MinIdle > c.Max {
		return fmt.Errorf("scaleset: need 0 <= min idle (%d) <= max (%d), max > 0", c.MinIdle, c.Max)
	}
	if c.Owner == "" {
		return errors.New("scaleset: an owner (node name) is required")
	}
	if c.Slots < 0 {
		return fmt.Errorf("scaleset: slots %d < 0", c.Slots)
	}
	if c.Slots == 0 || c.Slots > c.Max {
		c.Slots = c.Max
	}
	if c.WorkFolder == "" {
		c.WorkFolder = "_work"
	}
	if c.ConflictWait <= 0 {
		c.ConflictWait = 30 * time.Second
	}
	if c.RetryWait <= 0 {
		c.RetryWait = 2 * time.Second
	}
	if c.MaxRetryWait < c.RetryWait {
		c.MaxRetryWait = max(2*time.Minute, c.RetryWait)
	}
	return nil
}

// labels of the scale set as registered (lowercased, sorted, deduplicated).
func (c *Config) labels() []string {
	ls := c.Labels
	if len(ls) == 0 {
		ls = []string{c.Name}
	}
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, strings.ToLower(strings.TrimSpace(l)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Options wire a Listener.
type Options struct {
	Config
	// API is the scale-set client, normally *actions.Client.
	API API
	// Launcher runs JIT runners for this node's slots when the agent's
	// slot loop acquires a job from the listener (source.go); nil = demand
	// only (Queued and Desired).
	Launcher Launcher
	// MintBudget paces JIT config generation (a token bucket shared per
	// GitHub App, runner/github.MintBudgets); nil = unpaced.
	MintBudget interface {
		Wait(ctx context.Context) error
	}
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Clock is the time source of the retry waits and result waits
	// (runner/clock); nil = wall clock.
	Clock clock.Clock
	// RateGate is the gate the API client's calls wait at (its
	// HTTPOption built the client); each message session gets a gated
	// HTTP client of its own from it. Nil: sessions share the API
	// client's options.
	RateGate *RateGate
	// Journal records every launched runner until its registration is
	// gone (journal.go); nil = none.
	Journal *journal.Journal
	// OutdatedRecheck is how long minting stays stopped after GitHub
	// refused the runner image as outdated, before one runner probes
	// whether the image was updated (default 30 min; label mode's
	// runner/github.OutdatedGate).
	OutdatedRecheck time.Duration
}

// Listener holds one scale set's session and turns its messages into
// demand.
type Listener struct {
	cfg      Config
	labels   []string
	api      API
	launcher Launcher
	budget   interface {
		Wait(ctx context.Context) error
	}
	log     *slog.Logger
	metrics *metrics
	clock   clock.Clock
	rate    *RateGate
	journal *journal.Journal
	// outdated stops minting while GitHub refuses the runner image
	// (source.go).
	outdated *github.OutdatedGate

	mu         sync.Mutex
	scaleSetID int
	stats      *actions.RunnerScaleSetStatistic
	desired    int
	runners    map[string]*runnerState // launched runners by name
	launching  int                     // runners being minted and started
	changed    chan struct{}           // closed and replaced on every change of the above
}

// New validates the options and returns a Listener; Run starts it.
func New(o Options) (*Listener, error) {
	if o.API == nil {
		return nil, errors.New("scaleset: an API client is required")
	}
	if err := o.Config.validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(o.Name, o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("scaleset: metrics: %w", err)
	}
	log := o.Logger.With("scale_set", o.Name)
	l := &Listener{
		cfg: o.Config, labels: o.Config.labels(), api: o.API, launcher: o.Launcher, budget: o.MintBudget,
		log: log, metrics: m, clock: clock.Or(o.Clock), rate: o.RateGate, journal: o.Journal, outdated: github.NewOutdatedGate(o.OutdatedRecheck, clock.Or(o.Clock), log),
		runners: map[string]*runnerState{}, changed: make(chan struct{}),
	}
	return l, nil
}

// ScaleSetID is the id of the scale set the listener last resolved (0
// before the first).
func (l *Listener) ScaleSetID() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.scaleSetID
}

// Run keeps the scale set and its session alive until ctx ends and
// returns ctx's error. The runners themselves belong to the agent's slots
// (source.go); keep Run going until the agent has stopped, so that the
// jobs still running learn their results.
func (l *Listener) Run(ctx context.Context) error {
	sc := &scaler{l: l}

	wait := l.cfg.RetryWait
	for {
		opened, err := l.session(ctx, sc)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if opened {
			wait = l.cfg.RetryWait
		}
		switch {
		case errors.Is(err, ErrScaleSetGone):
			l.metrics.recreated.Inc()
			l.log.Warn("scale set or session not found; resolving the scale set again", "err", err)
			l.mu.Lock()
			l.scaleSetID = 0
			l.notifyLocked()
			l.mu.Unlock()
		case errors.Is(err, ErrSessionConflict):
			l.metrics.conflicts.Inc()
			l.log.Warn("scale set session held elsewhere; waiting", "wait", l.cfg.ConflictWait, "err", err)
			if err := clock.Sleep(ctx, l.clock, l.cfg.ConflictWait); err != nil {
				return err
			}
		default:
			l.metrics.failures.Inc()
			l.log.Error("scale set listener failed; retrying", "wait", wait, "err", err)
			if err := clock.Sleep(ctx, l.clock, wait); err != nil {
				return err
			}
			wait = min(2*wait, l.cfg.MaxRetryWait)
		}
	}
}

// session resolves the scale set, opens its message session and runs the
// library's listener on it until something fails. opened reports whether
// a session was established.
func (l *Listener) session(ctx context.Context, sc *scaler) (opened bool, err error) {
	id, err := l.ensureScaleSet(ctx)
	if err != nil {
		return false, err
	}
	sess, err := l.api.MessageSessionClient(ctx, id, l.cfg.Owner, l.rate.HTTPOption()...)
	if err != nil {
		return false, classify(fmt.Errorf("open message session on scale set %d: %w", id, err))
	}
	l.metrics.sessions.Inc()
	l.log.Info("message session opened", "scale_set_id", id, "owner", l.cfg.Owner)
	// A new session's statistics are the truth: forget runners that
	// exited while their JobCompleted was still on the way.
	l.mu.Lock()
	for name, r := range l.runners {
		if r.exited {
			delete(l.runners, name)
		}
	}
	l.notifyLocked()
	l.mu.Unlock()
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if cerr := sess.Close(cctx); cerr != nil {
			l.log.Info("closing the message session", "err", cerr)
		}
	}()
	lst, err := listener.New(sess, listener.Config{ScaleSetID: id, MaxRunners: l.cfg.Max, Logger: l.log.WithGroup("listener")},
		listener.WithMetricsRecorder(recorder{l}))
	if err != nil {
		return true, fmt.Errorf("scaleset: listener: %w", err)
	}
	return true, classify(lst.Run(ctx, sc))
}

// ensureScaleSet returns the scale set's id, finding it by name in its
// runner group, creating it when missing and updating its labels when
// they differ.
func (l *Listener) ensureScaleSet(ctx context.Context) (int, error) {
	l.mu.Lock()
	id := l.scaleSetID
	l.mu.Unlock()
	if id != 0 {
		return id, nil
	}
	groupID := 1
	if g := l.cfg.RunnerGroup; g != "" && !strings.EqualFold(g, actions.DefaultRunnerGroup) {
		rg, err := l.api.GetRunnerGroupByName(ctx, g)
		if err != nil {
			return 0, fmt.Errorf("runner group %q: %w", g, err)
		}
		groupID = rg.ID
	}
	want := &actions.RunnerScaleSet{Name: l.cfg.Name, RunnerGroupID: groupID, Labels: l.wireLabels(),
		RunnerSetting: actions.RunnerSetting{DisableUpdate: true}}
	ss, err := l.api.GetRunnerScaleSet(ctx, groupID, l.cfg.Name)
	if err != nil {
		return 0, fmt.Errorf("look up scale set %q: %w", l.cfg.Name, err)
	}
	switch {
	case ss == nil:
		ss, err = l.api.CreateRunnerScaleSet(ctx, want)
		if err != nil {
			return 0, fmt.Errorf("create scale set %q: %w", l.cfg.Name, err)
		}
		l.log.Info("scale set created", "scale_set_id", ss.ID, "labels", l.labels)
	case !slices.Equal(labelNames(ss.Labels), l.labels):
		ss, err = l.api.UpdateRunnerScaleSet(ctx, ss.ID, want)
		if err != nil {
			return 0, fmt.Errorf("update scale set %q: %w", l.cfg.Name, err)
		}
		l.log.Info("scale set labels updated", "scale_set_id", ss.ID, "labels", l.labels)
	}
	l.api.SetSystemInfo(actions.SystemInfo{System: "runfleet", ScaleSetID: ss.ID, Subsystem: "listener"})
	l.mu.Lock()
	l.scaleSetID = ss.ID
	l.notifyLocked()
	l.mu.Unlock()
	return ss.ID, nil
}

func (l *Listener) wireLabels() []actions.Label {
	out := make([]actions.Label, 0, len(l.labels))
	for _, n := range l.labels {
		out = append(out, actions.Label{Name: n, Type: "System"})
	}
	return out
}

func labelNames(ls []actions.Label) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, strings.ToLower(l.Name))
	}
	slices.Sort(out)
	return slices.Compact(out)
}
