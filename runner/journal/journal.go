package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/runfleet/runfleet/runner/clock"
)

// Platforms a record can belong to.
const (
	PlatformGitLab = "gitlab"
	PlatformGitHub = "github"
	// PlatformGitHubScaleSet is a runner of a GitHub scale set: its
	// registration lives in the scale-set service, removed through it.
	PlatformGitHubScaleSet = "github-scaleset"
)

// Entry is the record of one job.
//
// Platform credentials are referenced, not copied: Runner names the
// [[runners]] (or [[github]]) entry of the config whose token or App
// takes the job's report. The one secret kept is a GitLab job's JobToken:
// GitLab authenticates job updates with the job token only (the runner
// token cannot end a job), it is scoped to this one job and dies with it,
// and the record is 0600 like the config holding the runner token.
type Entry struct {
	Platform string `json:"platform"`
	// Runner is the name of the config entry the job came from.
	Runner string `json:"runner"`
	// URL is the platform URL of that entry, to spot a config that changed.
	URL   string `json:"url"`
	JobID string `json:"job_id"`
	// JobToken is a GitLab job's token (see above).
	JobToken string `json:"job_token,omitempty"`
	// RunnerID is the GitHub runner registration the job ran on.
	RunnerID int64 `json:"runner_id,omitempty"`
	// Node is the agent's node name (the executors' LabelNode).
	Node string `json:"node"`
	// EngineLabel is the prefix of the executors' LabelJob value of every
	// container, network and volume the job creates.
	EngineLabel string `json:"engine_label"`
	// Started is when the record was written; Record stamps it from the
	// journal's clock when it is zero.
	Started time.Time `json:"started"`
}

// name is the record's file name (without extension).
func (e Entry) name() string { return e.Platform + "-" + e.JobID }

var safeName = regexp.MustCompile(`^[a-z]+-[A-Za-z0-9_.-]+$`)

// Journal is a directory of records. Its methods are safe for concurrent
// use on distinct jobs.
type Journal struct {
	dir   string
	clock clock.Clock
}

// Option configures a Journal.
type Option func(*Journal)

// WithClock sets the clock that stamps records (Entry.Started); the
// default is the wall clock.
func WithClock(c clock.Clock) Option { return func(j *Journal) { j.clock = clock.Or(c) } }

// Open returns the journal in dir, creating the directory (0700).
func Open(dir string, opts ...Option) (*Journal, error) {
	if dir == "" {
		return nil, errors.New("journal: no directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	// Temp files of a write the crash interrupted: their record was never
	// in place, so nothing was started for them.
	stale, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	for _, p := range stale {
		_ = os.Remove(p)
	}
	j := &Journal{dir: dir, clock: clock.Real{}}
	for _, o := range opts {
		o(j)
	}
	return j, nil
}

// Dir is the journal's directory.
func (j *Journal) Dir() string { return j.dir }

func (j *Journal) path(e Entry, ext string) (string, error) {
	n := e.name()
	if !safeName.MatchString(n) || strings.Contains(n, "..") {
		return "", fmt.Errorf("journal: bad record name %q", n)
	}
	return filepath.Join(j.dir, n+ext), nil
}

// Record writes e durably: when it returns nil, the record survives a
// crash of the agent or of the node. A zero e.Started is stamped with the
// journal's clock.
func (j *Journal) Record(e Entry) error {
	if e.Platform == "" || e.JobID == "" {
		return errors.New("journal: a record needs a platform and a job id")
	}
	if e.Started.IsZero() {
		e.Started = j.clock.Now().UTC()
	}
	p, err := j.path(e, ".json")
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := writeAtomic(p, append(b, '\n')); err != nil {
		return fmt.Errorf("journal: recording job %s: %w", e.JobID, err)
	}
	return nil
}

// Done deletes e's record and log spool once the platform acknowledged
// the job's final state.
func (j *Journal) Done(e Entry) error {
	var errs []error
	for _, ext := range []string{".json", ".log"} {
		p, err := j.path(e, ext)
		if err != nil {
			return err
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := syncDir(j.dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("journal: removing job %s: %w", e.JobID, err)
	}
	return nil
}

// Pending returns the records left, oldest first. A record that cannot
// be read is skipped and reported in the error (the rest are returned).
func (j *Journal) Pending() ([]Entry, error) {
	names, err := filepath.Glob(filepath.Join(j.dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var out []Entry
	var errs []error
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var e Entry
		if err := json.Unmarshal(b, &e); err != nil || e.Platform == "" || e.JobID == "" {
			errs = append(errs, fmt.Errorf("%s: not a journal record: %v", filepath.Base(n), err))
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Started.Before(out[b].Started) })
	if err := errors.Join(errs...); err != nil {
		return out, fmt.Errorf("journal: %w", err)
	}
	return out, nil
}

// Spool opens (creating, 0600) e's log spool for appending. It is not
// synced: it survives the agent's death (the page cache keeps it), and
// after a node crash a short spool only costs a resend.
func (j *Journal) Spool(e Entry) (*os.File, error) {
	p, err := j.path(e, ".log")
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return f, nil
}

// SpoolBytes returns e's spooled log (empty when there is none).
func (j *Journal) SpoolBytes(e Entry) ([]byte, error) {
	p, err := j.path(e, ".log")
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
