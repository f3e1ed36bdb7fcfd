package gitlab

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/runfleet/runfleet/runner/ratelimit"
)

// Client defaults, used for zero ClientOptions fields.
const (
	DefaultUserAgent     = "runfleet/dev"
	DefaultRetryMax      = 3
	DefaultRetryWaitMin  = 500 * time.Millisecond
	DefaultRetryWaitMax  = 30 * time.Second
	DefaultMaxRetryAfter = time.Minute
	// DefaultCallTimeout bounds one JSON API call including its retries; it
	// must exceed GitLab's ~50 s long poll of jobs/request.
	DefaultCallTimeout = 2 * time.Minute
)

const (
	maxResponseBody = 64 << 20 // a job payload can be large; anything beyond is refused
	maxErrorBody    = 1 << 10  // kept in StatusError.Body
	maxRedirects    = 10
)

// Observer receives one call per HTTP attempt and one per retry, e.g. to
// feed Prometheus. Status is 0 when no answer arrived. Implementations must
// be safe for concurrent use.
type Observer interface {
	ObserveRequest(endpoint string, status int, d time.Duration)
	ObserveRetry(endpoint string)
}

// ClientOptions configure NewClient. Only BaseURL is required.
type ClientOptions struct {
	// BaseURL is the GitLab URL, e.g. https://gitlab.example.com; "/api/v4"
	// is appended unless already present.
	BaseURL string
	// UserAgent defaults to DefaultUserAgent; use "runfleet/<version>".
	UserAgent string
	Logger    *slog.Logger
	// HTTPClient is used as the base of every request (its CheckRedirect is
	// replaced). When nil, a client with http.DefaultTransport's settings and
	// TLSConfig is built.
	HTTPClient *http.Client
	// TLSConfig (e.g. a private CA) for the built client; not allowed
	// together with HTTPClient.
	TLSConfig *tls.Config
	// Observer may be nil.
	Observer Observer
	// Clock defaults to the wall clock.
	Clock Clock
	// RetryMax is the number of transport-level retries (of 408, 429, 500,
	// 502, 503, 504 and connection errors) for every call but jobs/request
	// and uploads; 0 means DefaultRetryMax, negative means none.
	RetryMax int
	// RequestJobRetryMax is the same for jobs/request, whose caller runs its
	// own backoff loop; 0 (the default) means no retries.
	RequestJobRetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff between
	// transport-level retries.
	RetryWaitMin, RetryWaitMax time.Duration
	// MaxRetryAfter is the longest Retry-After the client sleeps through
	// itself; a longer one is returned to the caller as a StatusError.
	MaxRetryAfter time.Duration
	// CallTimeout bounds one JSON API call with its retries (not artifact
	// transfers, which only the caller's context bounds).
	CallTimeout time.Duration
	// RateGate is the agent's rate-limit gate, shared by every client and
	// slot: a 429 on any call made with a runner token (or with the job
	// token of one of its jobs) pauses every call of that runner until
	// the server's time has passed. Nil gives the client a gate of its own.
	RateGate *ratelimit.Gate
}

// Client talks to GitLab's runner API. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	userAgent string
	log       *slog.Logger
	api       *http.Client // never follows redirects
	download  *http.Client // follows redirects, dropping JOB-TOKEN off-host
	obs       Observer
	clock     Clock

	retryMax, requestJobRetryMax int
	waitMin, waitMax             time.Duration
	maxRetryAfter, callTimeout   time.Duration

	gate      *ratelimit.Gate
	jobsMu    sync.Mutex
	jobRunner map[string]string // job token → the runner token that took the job
}

// NewClient validates opts and returns a Client.
func NewClient(opts ClientOptions) (*Client, error) {
	base, err := apiBase(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	if opts.HTTPClient != nil && opts.TLSConfig != nil {
		return nil, errors.New("gitlab: set HTTPClient or TLSConfig, not both")
	}
	c := &Client{
		base:               base,
		userAgent:          opts.UserAgent,
		log:                opts.Logger,
		obs:                opts.Observer,
		clock:              opts.Clock,
		retryMax:           opts.RetryMax,
		requestJobRetryMax: max(opts.RequestJobRetryMax, 0),
		waitMin:            opts.RetryWaitMin,
		waitMax:            opts.RetryWaitMax,
		maxRetryAfter:      opts.MaxRetryAfter,
		callTimeout:        opts.CallTimeout,
		gate:               opts.RateGate,
		jobRunner:          map[string]string{},
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.obs == nil {
		c.obs = nopObserver{}
	}
	if c.clock == nil {
		c.clock = realClock{}
	}
	switch {
	case c.retryMax == 0:
		c.retryMax = DefaultRetryMax
	case c.retryMax < 0:
		c.retryMax = 0
	}
	if c.waitMin <= 0 {
		c.waitMin = DefaultRetryWaitMin
	}
	if c.waitMax <= 0 {
		c.waitMax = DefaultRetryWaitMax
	}
	if c.maxRetryAfter <= 0 {
		c.maxRetryAfter = DefaultMaxRetryAfter
	}
	if c.callTimeout <= 0 {
		c.callTimeout = DefaultCallTimeout
	}
	if c.gate == nil {
		c.gate = ratelimit.New(ratelimit.Options{Clock: c.clock, Logger: c.log})
	}

	hc := opts.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if opts.TLSConfig != nil {
			tr.TLSClientConfig = opts.TLSConfig.Clone()
		}
		hc = &http.Client{Transport: tr}
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	// Every attempt waits at the gate for its credential first; the
	// observer times the network part only.
	observed := &ratelimit.Transport{
		Next: &observingTransport{next: next, obs: c.obs, clock: c.clock},
		Gate: c.gate, Key: c.credentialKey, Limit: ratelimit.GitLabLimit,
	}

	api := *hc
	api.Transport = observed
	api.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.api = &api

	dl := *hc
	dl.Transport = observed
	dl.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("gitlab: stopped after %d redirects", maxRedirects)
		}
		if req.URL.Host != c.base.Host {
			req.Header.Del(headerJobToken) // never hand the job token to object storage
		}
		return nil
	}
	c.download = &dl
	return c, nil
}

// apiBase parses a GitLab URL and returns its API v4 root with a trailing slash.
func apiBase(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("gitlab: BaseURL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("gitlab: BaseURL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gitlab: BaseURL %q: want http(s)://host[/path]", raw)
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, "/api/v4") {
		p += "/api/v4"
	}
	u.Path, u.RawPath, u.RawQuery, u.Fragment = p+"/", "", "", ""
	return u, nil
}

// Header names.
const (
	headerRunnerToken    = "RUNNER-TOKEN"
	headerJobToken       = "JOB-TOKEN"
	headerRequestID      = "X-Request-Id"
	headerJobStatus      = "Job-Status"
	headerLastUpdate     = "X-GitLab-Last-Update"
	headerUpdateInterval = "X-GitLab-Trace-Update-Interval"
	headerRetryAfter     = "Retry-After"
	headerRateLimitReset = "RateLimit-ResetTime"
)

// apiCall describes one JSON API request.
type apiCall struct {
	endpoint    string
	method      string
	path        string
	query       url.Values
	runnerToken string
	jobToken    string
	body        []byte
	contentType string
	header      http.Header
	retryMax    int
}

// apiResponse is a fully read answer.
type apiResponse struct {
	code   int
	header http.Header
	body   []byte
}

// endpointKey carries the endpoint name to the observing transport.
type endpointKey struct{}

// do sends call with transport-level retries and reads the whole answer.
func (c *Client) do(ctx context.Context, call apiCall) (*apiResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, c.callTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, endpointKey{}, call.endpoint)

	var body any
	if call.body != nil {
		body = call.body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, call.method, c.url(call.path, call.query), body)
	if err != nil {
		return nil, fmt.Errorf("gitlab %s: %w", call.endpoint, err)
	}
	for k, v := range call.header {
		req.Header[k] = v
	}
	c.setHeaders(req.Header, call.runnerToken, call.jobToken)
	if call.contentType != "" {
		req.Header.Set("Content-Type", call.contentType)
	}

	resp, err := c.retrying(c.api, call.endpoint, call.retryMax).Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, &transportError{endpoint: call.endpoint, err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return nil, &transportError{endpoint: call.endpoint, err: fmt.Errorf("reading answer: %w", err)}
	}
	if len(data) > maxResponseBody {
		return nil, fmt.Errorf("gitlab %s: answer larger than %d bytes", call.endpoint, maxResponseBody)
	}
	return &apiResponse{code: resp.StatusCode, header: resp.Header, body: data}, nil
}

// doJSON marshals v as the body of call and sends it.
func (c *Client) doJSON(ctx context.Context, call apiCall, v any) (*apiResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("gitlab %s: encoding body: %w", call.endpoint, err)
	}
	call.body, call.contentType = b, "application/json"
	return c.do(ctx, call)
}

func (c *Client) url(path string, q url.Values) string {
	u := c.base.JoinPath(path)
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func (c *Client) setHeaders(h http.Header, runnerToken, jobToken string) {
	h.Set("User-Agent", c.userAgent)
	h.Set("Accept", "application/json")
	h.Set(headerRequestID, newRequestID())
	if runnerToken != "" {
		h.Set(headerRunnerToken, runnerToken)
	}
	if jobToken != "" {
		h.Set(headerJobToken, jobToken)
	}
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// retrying returns a retryablehttp client for one call.
func (c *Client) retrying(hc *http.Client, endpoint string, retryMax int) *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient:   hc,
		RetryWaitMin: c.waitMin,
		RetryWaitMax: c.waitMax,
		RetryMax:     retryMax,
		CheckRetry:   c.checkRetry,
		Backoff:      c.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		RequestLogHook: func(_ retryablehttp.Logger, req *http.Request, attempt int) {
			if attempt > 0 {
				c.obs.ObserveRetry(endpoint)
				c.log.Debug("gitlab: retrying request", "endpoint", endpoint, "method", req.Method,
					"attempt", attempt+1, "request_id", req.Header.Get(headerRequestID))
			}
		},
	}
}

// checkRetry retries connection errors and 408/429/500/502/503/504, unless
// the server asks for a wait longer than maxRetryAfter.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if wait := c.retryAfter(resp.Header); wait > c.maxRetryAfter {
			return false, nil
		}
		return true, nil
	}
	return false, nil
}

// backoff leaves rate-limit waits to the gate (the next attempt waits
// there, with every other call of the credential), honours Retry-After /
// RateLimit-ResetTime of ungated calls, else waits exponentially with equal
// jitter between min and max.
func (c *Client) backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if resp.Request != nil && c.credentialKey(resp.Request) != "" {
			if until, _ := ratelimit.GitLabLimit(resp, c.clock.Now()); !until.IsZero() {
				return 0
			}
		}
		if wait := c.retryAfter(resp.Header); wait > 0 {
			return wait
		}
	}
	b := Backoff{Min: lo, Max: hi, Factor: 2, Jitter: EqualJitter}
	return b.Delay(attempt)
}

// retryAfter reads Retry-After (seconds or HTTP date), else
// RateLimit-ResetTime (HTTP date); 0 when absent or past.
func (c *Client) retryAfter(h http.Header) time.Duration {
	if v := strings.TrimSpace(h.Get(headerRetryAfter)); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil {
			if s > 0 && s < int64(24*time.Hour/time.Second) {
				return time.Duration(s) * time.Second
			}
			return 0
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(c.clock.Now()), 0)
		}
	}
	if v := strings.TrimSpace(h.Get(headerRateLimitReset)); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(c.clock.Now()), 0)
		}
	}
	return 0
}

// statusError builds the error for an unexpected answer.
func (c *Client) statusError(endpoint string, r *apiResponse) *StatusError {
	body := strings.TrimSpace(string(r.body[:min(len(r.body), maxErrorBody)]))
	return &StatusError{
		Endpoint:   endpoint,
		Code:       r.code,
		RetryAfter: c.retryAfter(r.header),
		JobStatus:  r.header.Get(headerJobStatus),
		Body:       body,
	}
}

// updateInterval parses X-GitLab-Trace-Update-Interval (seconds).
func updateInterval(h http.Header) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(h.Get(headerUpdateInterval)))
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

// observingTransport reports every attempt to the Observer.
type observingTransport struct {
	next  http.RoundTripper
	obs   Observer
	clock Clock
}

func (t *observingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := t.clock.Now()
	resp, err := t.next.RoundTrip(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	endpoint, _ := req.Context().Value(endpointKey{}).(string)
	t.obs.ObserveRequest(endpoint, status, t.clock.Now().Sub(start))
	return resp, err
}

type nopObserver struct{}

func (nopObserver) ObserveRequest(string, int, time.Duration) {}
func (nopObserver) ObserveRetry(string)                       {}
