package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/runfleet/runfleet/autoscaler/demand/gitlab/gitlabapitest"
	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// demoProject is the project the demo jobs belong to (gitlabtest's default
// project id), as the demand source asks for it.
const demoProject = "42"

// demoTags are the tags of every demo job, of the runner token, and the
// labels of the demo pool.
var demoTags = []string{"demo", "linux"}

// coordinator is the local GitLab: the strict fake runner API the node
// agents poll (gitlabtest) and the fake REST jobs API the control plane
// reads its demand from (gitlabapitest), over the same jobs.
type coordinator struct {
	tb          *hostTB
	gl          *gitlabtest.Server
	api         *gitlabapitest.Server
	runnerToken string
	apiToken    string
	mu          sync.Mutex
	jobs        []int64
}

func newCoordinator(dir string) (*coordinator, error) {
	tb := &hostTB{dir: dir}
	c := &coordinator{tb: tb, runnerToken: "glrt-demo" + randomHex(10), apiToken: "glpat-demo" + randomHex(10)}
	if err := tb.run(func() { c.gl = gitlabtest.New(tb) }); err != nil {
		return nil, err
	}
	c.gl.AddRunner(c.runnerToken, demoTags...)
	c.api = gitlabapitest.New(c.apiToken, c.pending)
	return c, nil
}

// enqueue queues n example jobs, each a short script of a few seconds.
func (c *coordinator) enqueue(n int, seconds int) {
	for i := range n {
		secs := seconds + i%3
		id := c.gl.Enqueue(gitlabtest.JobSpec{
			Name: fmt.Sprintf("demo %d/%d", i+1, n),
			Tags: demoTags,
			Script: []string{
				fmt.Sprintf("echo \"demo job %d of %d in $(hostname)\"", i+1, n),
				fmt.Sprintf("sleep %d", secs),
				"echo done",
			},
			// The dev node image has no git.
			Variables: []gitlabtest.Variable{{Key: "GIT_STRATEGY", Value: "none", Public: true}},
		})
		c.mu.Lock()
		c.jobs = append(c.jobs, id)
		c.mu.Unlock()
	}
}

// pending answers the jobs API: the demo project's pending jobs.
func (c *coordinator) pending(project string) ([]gitlabapitest.Job, bool) {
	if project != demoProject {
		return nil, false
	}
	var out []gitlabapitest.Job
	for _, r := range c.records() {
		if r.State == gitlabtest.StatePending {
			out = append(out, gitlabapitest.Job{ID: r.ID, Name: r.Name, Tags: demoTags})
		}
	}
	return out, true
}

func (c *coordinator) records() []gitlabtest.JobRecord {
	c.mu.Lock()
	ids := slices.Clone(c.jobs)
	c.mu.Unlock()
	out := make([]gitlabtest.JobRecord, 0, len(ids))
	for _, id := range ids {
		out = append(out, c.gl.Job(id))
	}
	return out
}

// jobCounts counts the jobs by where they are.
type jobCounts struct {
	Total, Queued, Running, Succeeded, Failed int
}

func (j jobCounts) done() bool { return j.Succeeded+j.Failed == j.Total }

func (c *coordinator) counts() jobCounts {
	var n jobCounts
	for _, r := range c.records() {
		n.Total++
		switch {
		case r.State == gitlabtest.StatePending:
			n.Queued++
		case r.State == gitlabtest.StateSuccess && r.FinalUpdates == 1:
			n.Succeeded++
		case r.State.Final():
			n.Failed++
		default:
			n.Running++
		}
	}
	return n
}

// close stops both fakes and returns the protocol violations the runner
// API fake recorded (requests a real GitLab would reject).
func (c *coordinator) close() []string {
	c.api.Close()
	c.tb.cleanup()
	return c.tb.errors()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// hostTB lets the test fake run in a command: it implements the part of
// testing.TB gitlabtest uses. Errors are collected; a fatal error ends the
// call hostTB.run wraps.
type hostTB struct {
	testing.TB // nil; only the methods below are called
	dir        string
	mu         sync.Mutex
	cleanups   []func()
	errs       []string
}

type fatal struct{ msg string }

// run calls f, turning a Fatal inside it into an error.
func (t *hostTB) run(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			ft, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("coordinator: %s", ft.msg)
		}
	}()
	f()
	return nil
}

func (t *hostTB) Helper()      {}
func (t *hostTB) Name() string { return "fleet-demo" }

func (t *hostTB) TempDir() string {
	d, err := os.MkdirTemp(t.dir, "gitlab-")
	if err != nil {
		panic(fatal{err.Error()})
	}
	return d
}

func (t *hostTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *hostTB) Errorf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errs = append(t.errs, fmt.Sprintf(format, args...))
}

func (t *hostTB) Error(args ...any) { t.Errorf("%s", fmt.Sprint(args...)) }

func (t *hostTB) Fatalf(format string, args ...any) { panic(fatal{fmt.Sprintf(format, args...)}) }

func (t *hostTB) Fatal(args ...any) { panic(fatal{fmt.Sprint(args...)}) }

func (t *hostTB) Logf(string, ...any) {}

func (t *hostTB) Log(...any) {}

func (t *hostTB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.errs) > 0
}

func (t *hostTB) cleanup() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for _, f := range slices.Backward(fs) {
		f()
	}
}

func (t *hostTB) errors() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.errs)
}
