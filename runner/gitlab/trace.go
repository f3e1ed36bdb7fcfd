package gitlab

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Trace defaults, used for zero TraceOptions fields.
const (
	// DefaultTraceLimit is gitlab-runner's default output_limit (4 MiB).
	DefaultTraceLimit        = 4 << 20
	DefaultUpdateInterval    = 3 * time.Second
	DefaultKeepAliveInterval = 30 * time.Second
	DefaultMaxPatchSize      = 1 << 20
	DefaultFinalTimeout      = 5 * time.Minute
)

// maxTraceResends bounds the 412 "resend the whole log" rounds of Finish.
const maxTraceResends = 3

// traceLimitNote is appended once when the log reaches its limit.
const traceLimitNote = "\nJob's log exceeded limit of %d bytes.\nJob execution will continue but no more output will be collected.\n"

// ErrTraceClosed is returned by writes after Finish, and by Run or Finish
// called at the wrong time.
var ErrTraceClosed = errors.New("gitlab: trace closed")

// TraceClient is what a Trace needs from the GitLab client.
type TraceClient interface {
	PatchTrace(ctx context.Context, jobID int64, jobToken string, offset int64, data []byte) (PatchResult, error)
	UpdateJob(ctx context.Context, jobID int64, body UpdateJobBody) (UpdateResult, error)
}

// TraceOptions configure NewTrace. Client, JobID and JobToken are required.
type TraceOptions struct {
	Client   TraceClient
	JobID    int64
	JobToken string
	// Info is sent with keep-alive and final updates when set.
	Info *VersionInfo
	// Secrets are masked in the log (the job's masked variable values and
	// its token); TokenPrefixes are the job's features.token_mask_prefixes.
	Secrets       []string
	TokenPrefixes []string
	// Limit is the most bytes of log kept and sent (default 4 MiB).
	Limit int64
	// UpdateInterval between patches (default 3 s; GitLab may change it).
	UpdateInterval time.Duration
	// KeepAliveInterval: with nothing sent for this long, Run sends a
	// "running" update (default 30 s).
	KeepAliveInterval time.Duration
	// MaxPatchSize bounds one PATCH (default 1 MiB).
	MaxPatchSize int
	// FinalTimeout bounds Finish (default 5 min).
	FinalTimeout time.Duration
	// Backoff paces Finish's retries (default 1 s to 30 s, equal jitter).
	Backoff *Backoff
	Logger  *slog.Logger
	Clock   Clock
	// Spool, when set, receives the log as sent (masked, capped) as it
	// grows: the job journal keeps it so that a restarted agent can close
	// the job with the right checksum (see RecoverJob).
	Spool io.Writer
}

// Trace is one job's log: the job's executor writes to it (masked, capped at
// the limit), Run sends new bytes to GitLab as they come and watches the
// Job-Status header, and Finish sends the rest and the final state.
//
// Write is safe for concurrent use; Run and Finish are each called once.
type Trace struct {
	client       TraceClient
	jobID        int64
	token        string
	info         *VersionInfo
	limit        int64
	keepAlive    time.Duration
	maxPatch     int
	finalTimeout time.Duration
	backoff      Backoff
	log          *slog.Logger
	clock        Clock
	spool        io.Writer // nil once a write to it failed

	wake          chan struct{} // signals the first output
	canceling     chan struct{}
	aborted       chan struct{}
	cancelingOnce sync.Once
	abortOnce     sync.Once

	mu          sync.Mutex // guards the fields below
	masker      *Masker
	buf         []byte // the log as sent: masked, capped
	crc         uint32
	truncated   bool
	closed      bool // no more writes
	woke        bool // the first output has been signalled
	sent        int64
	interval    time.Duration
	lastContact time.Time
	running     bool
	cancelRun   context.CancelFunc
	runDone     chan struct{}
	abortErr    error
}

// NewTrace returns a Trace for one job.
func NewTrace(opts TraceOptions) (*Trace, error) {
	switch {
	case opts.Client == nil:
		return nil, errors.New("gitlab: TraceOptions.Client is required")
	case opts.JobID <= 0 || opts.JobToken == "":
		return nil, errors.New("gitlab: TraceOptions.JobID and JobToken are required")
	}
	t := &Trace{
		client:       opts.Client,
		jobID:        opts.JobID,
		token:        opts.JobToken,
		info:         opts.Info,
		limit:        opts.Limit,
		keepAlive:    opts.KeepAliveInterval,
		maxPatch:     opts.MaxPatchSize,
		finalTimeout: opts.FinalTimeout,
		log:          opts.Logger,
		clock:        opts.Clock,
		spool:        opts.Spool,
		interval:     opts.UpdateInterval,
		wake:         make(chan struct{}, 1),
		canceling:    make(chan struct{}),
		aborted:      make(chan struct{}),
	}
	if opts.Backoff != nil {
		t.backoff = *opts.Backoff
	} else {
		t.backoff = Backoff{Min: time.Second, Max: 30 * time.Second, Factor: 2, Jitter: EqualJitter}
	}
	if t.limit <= 0 {
		t.limit = DefaultTraceLimit
	}
	if t.keepAlive <= 0 {
		t.keepAlive = DefaultKeepAliveInterval
	}
	if t.maxPatch <= 0 {
		t.maxPatch = DefaultMaxPatchSize
	}
	if t.finalTimeout <= 0 {
		t.finalTimeout = DefaultFinalTimeout
	}
	if t.interval <= 0 {
		t.interval = DefaultUpdateInterval
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.clock == nil {
		t.clock = realClock{}
	}
	t.log = t.log.With("job", opts.JobID)
	t.lastContact = t.clock.Now()
	t.masker = NewMasker(traceSink{t}, append([]string{opts.JobToken}, opts.Secrets...), opts.TokenPrefixes)
	return t, nil
}

// Write appends p to the log (masked; beyond the limit it is dropped).
func (t *Trace) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0, ErrTraceClosed
	}
	if _, err := t.masker.Write(p); err != nil {
		return 0, err
	}
	if !t.woke && len(t.buf) > 0 {
		t.woke = true
		select {
		case t.wake <- struct{}{}: // the first output goes out at once
		default:
		}
	}
	return len(p), nil
}

// traceSink receives the masked stream; it runs with t.mu held.
type traceSink struct{ t *Trace }

func (s traceSink) Write(p []byte) (int, error) {
	t := s.t
	if t.truncated {
		return len(p), nil
	}
	if room := t.limit - int64(len(t.buf)); int64(len(p)) > room {
		t.append(p[:room])
		t.append([]byte(fmt.Sprintf(traceLimitNote, t.limit)))
		t.truncated = true
		return len(p), nil
	}
	t.append(p)
	return len(p), nil
}

func (t *Trace) append(p []byte) {
	t.buf = append(t.buf, p...)
	t.crc = crc32.Update(t.crc, crc32.IEEETable, p)
	if t.spool != nil {
		if _, err := t.spool.Write(p); err != nil {
			t.log.Warn("gitlab: spooling the job log failed; a restart could not resend it", "err", err)
			t.spool = nil
		}
	}
}

// Checksum is "crc32:%08x" of the log as sent.
func (t *Trace) Checksum() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return fmt.Sprintf("crc32:%08x", t.crc)
}

// Bytesize is the size of the log as sent.
func (t *Trace) Bytesize() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int64(len(t.buf))
}

// Bytes returns a copy of the log as sent so far.
func (t *Trace) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf...)
}

// Canceling is closed when GitLab asks for a graceful cancel (Job-Status
// "canceling"): stop the script, run after_script, then Finish.
func (t *Trace) Canceling() <-chan struct{} { return t.canceling }

// Aborted is closed when the job is gone on GitLab (Job-Status "canceled"
// or "failed", or a 403): stop at once. AbortErr says why.
func (t *Trace) Aborted() <-chan struct{} { return t.aborted }

// AbortErr is the reason of the abort (matching ErrJobNotRunning), or nil.
func (t *Trace) AbortErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.abortErr
}

// Run sends the log every update interval (and at once after the first
// output), and a "running" keep-alive when nothing was sent for the
// keep-alive interval, until Finish is called (it then returns nil), the
// job is aborted (AbortErr) or ctx ends (ctx.Err()).
func (t *Trace) Run(ctx context.Context) error {
	t.mu.Lock()
	if t.running || t.closed {
		t.mu.Unlock()
		return ErrTraceClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	t.running, t.cancelRun, t.runDone = true, cancel, done
	t.mu.Unlock()
	defer close(done)
	defer cancel()

	timer := t.clock.NewTimer(t.currentInterval())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			if t.isClosed() {
				return nil
			}
			return ctx.Err()
		case <-t.aborted:
			return t.AbortErr()
		case <-t.wake:
		case <-timer.C():
		}
		if err := t.sendPending(ctx); err != nil && ctx.Err() == nil {
			t.log.Warn("gitlab: sending job log", "err", err)
		}
		t.maybeKeepAlive(ctx)
		timer.Reset(t.currentInterval())
	}
}

// Finish stops Run, sends the whole log until GitLab acknowledged it, then
// the final state, retrying 202, 5xx and transport errors with backoff,
// resending the whole log on 412, for at most the final timeout. A job
// already gone (403, or an aborted trace) is not retried. Pass a context
// that outlives the job's cancellation (context.WithoutCancel).
//
// A State of "canceled" or an aborted trace sends what log it can and no
// final state: GitLab already ended the job.
func (t *Trace) Finish(ctx context.Context, r FinalResult) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrTraceClosed
	}
	t.closed = true
	if err := t.masker.Close(); err != nil {
		t.log.Warn("gitlab: flushing masked log", "err", err)
	}
	cancel, done := t.cancelRun, t.runDone
	t.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}

	ctx, stop := context.WithTimeout(ctx, t.finalTimeout)
	defer stop()
	if t.isAborted() || r.State == "canceled" {
		if err := t.sendPending(ctx); err != nil {
			t.log.Debug("gitlab: sending the log of an ended job", "err", err)
		}
		return nil
	}

	body := UpdateJobBody{Token: t.token, State: r.State, FailureReason: r.FailureReason, Info: t.info}
	if r.ExitCode != 0 {
		code := r.ExitCode
		body.ExitCode = &code
	}
	bo := t.backoff
	bo.Reset()
	for resends := 0; ; {
		if err := t.flushAll(ctx, &bo); err != nil {
			if errors.Is(err, ErrJobNotRunning) || ctx.Err() != nil {
				return fmt.Errorf("gitlab: job %d: sending the log: %w", t.jobID, err)
			}
			t.log.Warn("gitlab: could not send the whole log, sending the final state anyway", "err", err)
		}
		body.Output = t.output()
		res, err := t.client.UpdateJob(ctx, t.jobID, body)
		var wait time.Duration
		switch {
		case err == nil && res.Code != http.StatusAccepted:
			return nil
		case err == nil:
			t.setInterval(res.UpdateInterval)
			wait = t.currentInterval()
			t.log.Debug("gitlab: final update accepted, not complete; retrying", "wait", wait)
		case errors.Is(err, ErrResendTrace):
			if resends++; resends > maxTraceResends {
				return fmt.Errorf("gitlab: job %d: log still rejected after %d resends: %w", t.jobID, maxTraceResends, err)
			}
			t.log.Info("gitlab: GitLab asked for the whole log again")
			t.setSent(0)
			continue
		case errors.Is(err, ErrForbidden):
			t.abort(err)
			return fmt.Errorf("gitlab: job %d: final update: %w", t.jobID, err)
		case Retryable(err):
			wait = max(bo.Next(), RetryAfter(err))
			t.log.Warn("gitlab: final update failed; retrying", "err", err, "wait", wait)
		default:
			return fmt.Errorf("gitlab: job %d: final update: %w", t.jobID, err)
		}
		if err := t.sleep(ctx, wait); err != nil {
			return fmt.Errorf("gitlab: job %d: final update not acknowledged: %w", t.jobID, err)
		}
	}
}

// flushAll sends every byte, retrying retryable failures with backoff.
func (t *Trace) flushAll(ctx context.Context, bo *Backoff) error {
	for {
		err := t.sendPending(ctx)
		if err == nil || !Retryable(err) || errors.Is(err, ErrJobNotRunning) {
			return err
		}
		wait := max(bo.Next(), RetryAfter(err))
		t.log.Warn("gitlab: sending job log failed; retrying", "err", err, "wait", wait)
		if err := t.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// sendPending patches the bytes written so far until GitLab holds them all,
// resuming where a 416 says. It gives up after a bounded number of rounds.
func (t *Trace) sendPending(ctx context.Context) error {
	t.mu.Lock()
	rounds := (len(t.buf)-int(t.sent))/t.maxPatch + 4
	t.mu.Unlock()
	for range rounds {
		off, data := t.chunk()
		if len(data) == 0 {
			return nil
		}
		res, err := t.client.PatchTrace(ctx, t.jobID, t.token, off, data)
		var re *RangeError
		switch {
		case errors.As(err, &re):
			t.log.Info("gitlab: log offset mismatch, resuming where GitLab is", "offset", off, "server", re.Offset)
			t.jobStatus(re.JobStatus)
			t.setSent(re.Offset)
			continue
		case err != nil:
			t.failed(err)
			return err
		}
		t.jobStatus(res.JobStatus)
		t.setInterval(res.UpdateInterval)
		t.setSent(res.NewOffset)
		t.contact()
		if t.isAborted() {
			return t.AbortErr()
		}
	}
	if off, data := t.chunk(); len(data) > 0 {
		return fmt.Errorf("gitlab: job %d: log not accepted from offset %d after %d patches", t.jobID, off, rounds)
	}
	return nil
}

// maybeKeepAlive sends a "running" update when nothing reached GitLab for
// the keep-alive interval.
func (t *Trace) maybeKeepAlive(ctx context.Context) {
	t.mu.Lock()
	due := t.clock.Now().Sub(t.lastContact) >= t.keepAlive
	t.mu.Unlock()
	if !due || t.isAborted() {
		return
	}
	res, err := t.client.UpdateJob(ctx, t.jobID, UpdateJobBody{
		Token: t.token, State: StateRunning, Output: t.output(), Info: t.info,
	})
	if err != nil {
		t.failed(err)
		if ctx.Err() == nil {
			t.log.Warn("gitlab: job keep-alive", "err", err)
		}
		return
	}
	t.jobStatus(res.JobStatus)
	t.setInterval(res.UpdateInterval)
	t.contact()
}

// chunk returns the next bytes to send and their offset. The slice stays
// valid: bytes in buf are never changed once written.
func (t *Trace) chunk() (int64, []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	end := min(int64(len(t.buf)), t.sent+int64(t.maxPatch))
	return t.sent, t.buf[t.sent:end:end]
}

func (t *Trace) output() *JobOutput {
	t.mu.Lock()
	defer t.mu.Unlock()
	return &JobOutput{Checksum: fmt.Sprintf("crc32:%08x", t.crc), Bytesize: int64(len(t.buf))}
}

func (t *Trace) setSent(n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent = min(max(n, 0), int64(len(t.buf)))
}

func (t *Trace) contact() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastContact = t.clock.Now()
}

func (t *Trace) setInterval(d time.Duration) {
	if d <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.interval = d
}

func (t *Trace) currentInterval() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.interval
}

func (t *Trace) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

func (t *Trace) isAborted() bool {
	select {
	case <-t.aborted:
		return true
	default:
		return false
	}
}

// jobStatus acts on a Job-Status header.
func (t *Trace) jobStatus(s string) {
	switch s {
	case JobStatusCanceling:
		t.cancelingOnce.Do(func() {
			t.log.Info("gitlab: job is canceling")
			close(t.canceling)
		})
	case JobStatusCanceled:
		t.abort(ErrJobCanceled)
	case JobStatusFailed:
		t.abort(fmt.Errorf("%w: failed", ErrJobNotRunning))
	}
}

// failed acts on a failed call: its Job-Status, and 403 aborts.
func (t *Trace) failed(err error) {
	var se *StatusError
	if errors.As(err, &se) {
		t.jobStatus(se.JobStatus)
	}
	if errors.Is(err, ErrForbidden) {
		t.abort(err)
	}
}

func (t *Trace) abort(err error) {
	t.abortOnce.Do(func() {
		t.log.Info("gitlab: job no longer running", "err", err)
		t.mu.Lock()
		t.abortErr = err
		t.mu.Unlock()
		close(t.aborted)
	})
}

// sleep waits d or until ctx ends.
func (t *Trace) sleep(ctx context.Context, d time.Duration) error {
	timer := t.clock.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C():
		return nil
	}
}
