package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v92/github"
	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/time/rate"

	"github.com/runfleet/runfleet/runner/ratelimit"
)

// DefaultJITPerMinute is the JIT minting budget per credential: JIT
// generation costs 5 points of GitHub's 900 points/minute secondary limit,
// about 170 runners a minute per App.
const DefaultJITPerMinute = 170

// Auth is how the agent authenticates: a GitHub App installation (AppID,
// InstallationID and PrivateKey) or a personal access token (Token).
type Auth struct {
	AppID          int64
	InstallationID int64
	PrivateKey     []byte // PEM
	Token          string
}

// Validate checks that exactly one way of authenticating is complete.
func (a Auth) Validate() error {
	app := a.AppID != 0 || a.InstallationID != 0 || len(a.PrivateKey) > 0
	switch {
	case app && a.Token != "":
		return errors.New("give either a GitHub App (app id, installation id, private key) or a token, not both")
	case app && (a.AppID <= 0 || a.InstallationID <= 0 || len(a.PrivateKey) == 0):
		return errors.New("a GitHub App needs its app id, installation id and private key")
	case !app && a.Token == "":
		return errors.New("no credentials: give a GitHub App (app id, installation id, private key) or a token")
	}
	return nil
}

// String never shows secrets.
func (a Auth) String() string {
	if a.Token != "" {
		return "token"
	}
	return fmt.Sprintf("app %d installation %d", a.AppID, a.InstallationID)
}

// LogValue keeps secrets out of logs.
func (a Auth) LogValue() slog.Value { return slog.StringValue(a.String()) }

// ClientOptions configure a Client.
type ClientOptions struct {
	// URL is the GitHub URL of the target (see ParseURL).
	URL  string
	Auth Auth
	// Transport is the base HTTP transport; nil means http.DefaultTransport.
	// Transient failures (connection errors, 5xx, 429) are retried over it
	// by go-retryablehttp.
	Transport http.RoundTripper
	UserAgent string
	Logger    *slog.Logger
	// JITPerMinute budgets JIT minting (token bucket); 0 means
	// DefaultJITPerMinute.
	JITPerMinute float64
	// JITBudget, when set, is the minting bucket shared with the other
	// users of the same credentials (MintBudgets); JITPerMinute is then
	// ignored.
	JITBudget *rate.Limiter
	// MaxRateLimitWait is the longest one call waits for a rate limit to
	// lift before failing with ErrRateLimited; 0 means 15 minutes.
	MaxRateLimitWait time.Duration
	// Sleep waits d or until ctx ends (injected by tests); nil sleeps.
	Sleep func(ctx context.Context, d time.Duration) error
	// RateLimitFailFast reports a rate limit at once (ErrRateLimited)
	// instead of waiting it out: no retry of a 429 and no wait between
	// attempts; the pause stays on RateGate under RateKey. For a server
	// answering for others (the control plane minting for nodes), whose
	// callers wait themselves.
	RateLimitFailFast bool
	// RateGate is the agent's rate-limit gate, shared by every client of
	// the same App or token: an exhausted primary limit, a secondary limit
	// or a Retry-After seen by any of them pauses every request made with
	// the credential (installation tokens included) until it lifts. Nil
	// gives the client a gate of its own.
	RateGate *ratelimit.Gate
}

// Client calls the GitHub REST API for one Target.
type Client struct {
	target  Target
	api     *gh.Client
	log     *slog.Logger
	jit     *rate.Limiter
	maxWait time.Duration
	sleep   func(context.Context, time.Duration) error
	rateKey string
}

// NewClient builds a client; it makes no request.
func NewClient(o ClientOptions) (*Client, error) {
	t, err := ParseURL(o.URL)
	if err != nil {
		return nil, err
	}
	if err := o.Auth.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.JITPerMinute <= 0 {
		o.JITPerMinute = DefaultJITPerMinute
	}
	if o.MaxRateLimitWait <= 0 {
		o.MaxRateLimitWait = 15 * time.Minute
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	base := o.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	gate := o.RateGate
	if gate == nil {
		gate = ratelimit.New(ratelimit.Options{Logger: o.Logger})
	}
	var host string
	if u, err := url.Parse(t.WebURL); err == nil {
		host = u.Host
	}
	rateKey := GateKey(host, o.Auth.AppID, o.Auth.Token)
	// Below the retries: every attempt waits at the gate.
	base = &ratelimit.Transport{
		Next: base, Gate: gate, Limit: ratelimit.GitHubLimit,
		Key: func(*http.Request) string { return rateKey },
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{Transport: base}
	rc.RetryMax = 3
	rc.RetryWaitMin = 200 * time.Millisecond
	rc.RetryWaitMax = 5 * time.Second
	rc.Logger = nil
	if o.RateLimitFailFast {
		o.MaxRateLimitWait = time.Nanosecond // call() never sleeps on a limit
		rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
				return false, nil
			}
			return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
		}
	}
	var tr http.RoundTripper = &retryablehttp.RoundTripper{Client: rc}
	opts := []gh.ClientOptionsFunc{}
	if o.Auth.Token != "" {
		opts = append(opts, gh.WithAuthToken(o.Auth.Token))
	} else {
		itr, err := ghinstallation.New(tr, o.Auth.AppID, o.Auth.InstallationID, o.Auth.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("github app private key: %w", err)
		}
		itr.BaseURL = strings.TrimSuffix(t.APIURL, "/")
		tr = itr
	}
	opts = append(opts, gh.WithTransport(tr), gh.WithTimeout(2*time.Minute))
	if o.UserAgent != "" {
		opts = append(opts, gh.WithUserAgent(o.UserAgent))
	}
	if t.APIURL != "https://api.github.com/" {
		host, _ := strings.CutSuffix(t.APIURL, "api/v3/")
		opts = append(opts, gh.WithEnterpriseURLs(t.APIURL, host+"api/uploads/"))
	}
	api, err := gh.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("github client: %w", err)
	}
	jit := o.JITBudget
	if jit == nil {
		jit = NewMintLimiter(o.JITPerMinute)
	}
	return &Client{
		target: t, api: api, log: o.Logger, maxWait: o.MaxRateLimitWait, sleep: o.Sleep, jit: jit, rateKey: rateKey,
	}, nil
}

// RateKey is the client's credential key at its RateGate: a caller that
// must not wait (a server answering for others) reads the pause in force
// with Gate.Until(RateKey()).
func (c *Client) RateKey() string { return c.rateKey }

// Target is where this client registers runners.
func (c *Client) Target() Target { return c.target }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
