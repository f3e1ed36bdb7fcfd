package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/clock"
)

// Agent is what the fleet client reads and steers.
type Agent interface {
	Status() runner.Status
	Cordon(reason string)
	AbortJobsAt(t time.Time)
	// LimitJobs caps the jobs the node starts in its life; the agent
	// cordons itself with reason once the last one started.
	LimitJobs(n int, reason string)
}

// Options configure a Client.
type Options struct {
	URL       string
	JoinToken string
	// BootstrapToken is the one-time secret the node's provider handed
	// it at launch (docker provider); presented at the first
	// registration.
	BootstrapToken string
	// Identity, when set, supplies a signed instance identity presented
	// at every registration (EC2: EC2Identity).
	Identity      IdentitySource
	NodeTokenFile string
	Name          string
	ProviderID    string
	Pool          string
	Offering      string
	Labels        map[string]string
	Version       string
	// Interval between heartbeats until the control plane names one.
	Interval time.Duration
	Agent    Agent
	// Exit stops the agent (its Run returns): called once drained, or on
	// a terminate command.
	Exit       func()
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Clock is the time source of the heartbeat waits (runner/clock);
	// nil = wall clock.
	Clock clock.Clock
	// BootID names this boot of the machine (boot.go); nil reads the
	// kernel's.
	BootID func() (string, error)
	// Token, when set, is where the client keeps the node token (nil: a
	// holder of its own): the fleet's GitHub client (github.go) calls
	// with it.
	Token *NodeToken
}

// Client registers and heartbeats.
type Client struct {
	o        Options
	base     string
	hc       *http.Client
	log      *slog.Logger
	token    *NodeToken
	draining bool
	exitOnce sync.Once
	clk      clock.Clock
}

// ErrRejected wraps a 4xx answer of the control plane.
var ErrRejected = errors.New("rejected by the control plane")

// StatusError is a non-2xx answer.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Msg) }

// Unwrap makes 4xx answers match ErrRejected.
func (e *StatusError) Unwrap() error {
	if e.Code >= 400 && e.Code < 500 {
		return ErrRejected
	}
	return nil
}

// New returns a Client.
func New(o Options) (*Client, error) {
	if o.URL == "" || o.JoinToken == "" || o.Name == "" || o.ProviderID == "" || o.Agent == nil {
		return nil, errors.New("fleet: URL, JoinToken, Name, ProviderID and Agent are required")
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Exit == nil {
		o.Exit = func() {}
	}
	if o.Token == nil {
		o.Token = NewNodeToken()
	}
	return &Client{o: o, base: strings.TrimSuffix(o.URL, "/"), hc: o.HTTPClient, log: o.Logger.With("fleet", o.URL), clk: clock.Or(o.Clock), token: o.Token}, nil
}

// Run registers (or reuses the stored node token) and heartbeats until
// ctx ends.
func (c *Client) Run(ctx context.Context) {
	c.token.Set(c.storedToken())
	wait := time.Second
	for ctx.Err() == nil {
		if c.token.current() == "" {
			if c.warming(ctx) {
				if clock.Sleep(ctx, c.clk, warmPoll) != nil {
					return
				}
				continue
			}
			if err := c.register(ctx); err != nil {
				c.log.Warn("registering with the fleet control plane", "err", err, "retry_in", wait)
				if clock.Sleep(ctx, c.clk, wait) != nil {
					return
				}
				wait = min(2*wait, 30*time.Second)
				continue
			}
			wait = time.Second
		}
		if err := c.Beat(ctx); err != nil {
			var se *StatusError
			if errors.As(err, &se) && se.Code == http.StatusUnauthorized {
				c.log.Warn("node token rejected: registering again")
				c.token.Set("")
				continue
			}
			if ctx.Err() == nil {
				c.log.Warn("heartbeat", "err", err)
			}
		}
		if clock.Sleep(ctx, c.clk, c.o.Interval) != nil {
			return
		}
	}
}

func (c *Client) post(ctx context.Context, path, tok string, in, out any) error {
	return postJSON(ctx, c.hc, c.base, path, tok, in, out)
}

// postJSON posts in as JSON to base+path with tok and decodes a 200
// answer into out; any other answer is a *StatusError.
func postJSON(ctx context.Context, hc *http.Client, base, path, tok string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", fleetapi.ContentType)
	req.Header.Set(fleetapi.HeaderAuthorization, fleetapi.BearerPrefix+tok)
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e fleetapi.Error
		_ = json.Unmarshal(body, &e)
		return fmt.Errorf("%s: %w", path, &StatusError{Code: resp.StatusCode, Msg: e.Error})
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: answer: %w", path, err)
	}
	return nil
}

func (c *Client) register(ctx context.Context) error {
	st := c.o.Agent.Status()
	req := fleetapi.RegisterRequest{
		Name: c.o.Name, ProviderID: c.o.ProviderID, Pool: c.o.Pool, Offering: c.o.Offering,
		Capacity: fleetapi.Capacity{Slots: st.Slots}, Labels: c.o.Labels, Version: c.o.Version,
	}
	if c.o.Identity != nil {
		id, err := c.o.Identity.Identity(ctx)
		if err != nil {
			return fmt.Errorf("register: instance identity: %w", err)
		}
		req.Identity = id
	}
	req.Identity.BootstrapToken = c.o.BootstrapToken
	var resp fleetapi.RegisterResponse
	if err := c.post(ctx, fleetapi.PathRegister, c.o.JoinToken, req, &resp); err != nil {
		return err
	}
	if resp.NodeToken == "" {
		return errors.New("register: no node token in the answer")
	}
	if err := writeToken(c.o.NodeTokenFile, resp.NodeToken); err != nil {
		return err
	}
	c.saveBoot()
	c.token.Set(resp.NodeToken)
	if resp.HeartbeatIntervalSeconds > 0 {
		c.o.Interval = time.Duration(resp.HeartbeatIntervalSeconds) * time.Second
	}
	if resp.MaxJobs > 0 {
		// A single-use pool: the node stops taking jobs itself after its
		// last one, before the control plane's drain arrives, and then
		// drains (Beat) as on that drain.
		c.o.Agent.LimitJobs(resp.MaxJobs, fleetapi.ConditionDraining)
	}
	c.log.Info("registered with the fleet control plane", "node", c.o.Name, "heartbeat", c.o.Interval, "max_jobs", resp.MaxJobs)
	return nil
}

// writeToken stores the node token in a 0600 file, atomically.
func writeToken(path, tok string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("node token: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
		return fmt.Errorf("node token: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("node token: %w", err)
	}
	return nil
}

// Beat sends one heartbeat and acts on the answer.
func (c *Client) Beat(ctx context.Context) error {
	st := c.o.Agent.Status()
	hb := fleetapi.Heartbeat{Name: c.o.Name, ProviderID: c.o.ProviderID, Slots: st.Slots, Busy: st.Busy, Cleaning: st.Cleaning}
	for _, j := range st.Running {
		hb.Running = append(hb.Running, fleetapi.RunningJob{ID: j.ID, Source: j.Source, Since: j.Since})
	}
	draining := false
	for _, cd := range st.Conditions {
		hb.Conditions = append(hb.Conditions, fleetapi.Condition{Type: cd})
		draining = draining || cd == fleetapi.ConditionDraining
	}
	if c.draining && !draining {
		hb.Conditions = append(hb.Conditions, fleetapi.Condition{Type: fleetapi.ConditionDraining})
	}
	if draining && !c.draining {
		// The agent drains itself (it started the most jobs its pool
		// allows): leave once idle, as on a drain command.
		c.log.Info("the node ran its last job: draining, then exiting")
		c.draining = true
	}
	var resp fleetapi.HeartbeatResponse
	if err := c.post(ctx, fleetapi.PathHeartbeat, c.token.current(), hb, &resp); err != nil {
		return err
	}
	if c.draining && st.Busy == 0 && st.Cleaning == 0 {
		// The control plane now knows the node is drained and idle, and
		// no finished job's containers are still being removed (the
		// agent would wait for them anyway before it stops).
		c.exit("drained")
		return nil
	}
	for _, cmd := range resp.Commands {
		c.act(cmd)
	}
	return nil
}

func (c *Client) act(cmd fleetapi.Command) {
	switch cmd.Type {
	case fleetapi.CommandCordon:
		c.o.Agent.Cordon(fleetapi.ConditionCordoned)
	case fleetapi.CommandDrain:
		if !c.draining {
			c.log.Info("control plane asks to drain: finishing running jobs, then exiting", "reason", cmd.Reason)
			c.draining = true
			c.o.Agent.Cordon(fleetapi.ConditionDraining)
		}
	case fleetapi.CommandTerminate:
		c.log.Warn("control plane asks to terminate: ending running jobs now", "reason", cmd.Reason)
		c.o.Agent.Cordon(fleetapi.ConditionDraining)
		c.o.Agent.AbortJobsAt(c.clk.Now())
		c.exit("terminated")
	default:
		c.log.Warn("unknown command from the control plane", "type", cmd.Type)
	}
}

func (c *Client) exit(why string) {
	c.exitOnce.Do(func() {
		c.log.Info("leaving the fleet", "why", why)
		c.o.Exit()
	})
}
