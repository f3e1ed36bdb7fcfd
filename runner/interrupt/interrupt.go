package interrupt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/runfleet/runfleet/runner/clock"
)

// Kind says what the cloud announced.
type Kind string

// Notice kinds.
const (
	// Terminate: the node goes away at Notice.At (AWS instance-action,
	// GCP preempted, Azure Preempt).
	Terminate Kind = "terminate"
	// Rebalance: elevated risk of interruption (AWS); stop taking work
	// and let the control plane start a replacement.
	Rebalance Kind = "rebalance"
)

// Notice is one announcement.
type Notice struct {
	Kind  Kind
	Cloud string
	// At is when the node will be taken (zero when unknown).
	At time.Time
}

// Checker asks the metadata service once.
type Checker interface {
	// Check returns the most severe notice in force, or nil.
	Check(ctx context.Context) (*Notice, error)
}

// DefaultEndpoint is the link-local metadata address AWS and Azure use.
const DefaultEndpoint = "http://169.254.169.254"

// ErrUnknownCloud is returned by New for an unsupported cloud name.
var ErrUnknownCloud = errors.New("unknown cloud")

// Option configures New and Watch.
type Option func(*options)

type options struct{ clock clock.Clock }

// WithClock sets the time source (default the wall clock): session token
// expiry, GCP's deadline and Watch's pacing read it.
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

func apply(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	o.clock = clock.Or(o.clock)
	return o
}

// New returns a Checker for cloud ("aws", "gcp" or "azure") at endpoint
// (DefaultEndpoint, or http://metadata.google.internal for GCP, when
// empty).
func New(cloud, endpoint string, client *http.Client, opts ...Option) (Checker, error) {
	clk := apply(opts).clock
	if client == nil {
		// Metadata answers in milliseconds; never hang a poll.
		client = &http.Client{Timeout: 2 * time.Second}
	}
	if endpoint == "" {
		endpoint = DefaultEndpoint
		if cloud == "gcp" {
			endpoint = "http://metadata.google.internal"
		}
	}
	endpoint = strings.TrimSuffix(endpoint, "/")
	switch cloud {
	case "aws":
		return &aws{base: endpoint, c: client, clock: clk}, nil
	case "gcp":
		return &gcp{base: endpoint, c: client, clock: clk}, nil
	case "azure":
		return &azure{base: endpoint, c: client}, nil
	}
	return nil, fmt.Errorf("%w %q (want aws, gcp or azure)", ErrUnknownCloud, cloud)
}

// Watch polls c every interval until ctx ends, calling notify once per
// new notice kind (a Terminate after a Rebalance is reported too).
// Errors are passed to onError and polling goes on.
func Watch(ctx context.Context, c Checker, interval time.Duration, notify func(Notice), onError func(error), opts ...Option) {
	clk := apply(opts).clock
	seen := map[Kind]bool{}
	for {
		n, err := c.Check(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			onError(err)
		case n != nil && !seen[n.Kind]:
			seen[n.Kind] = true
			notify(*n)
		}
		if clock.Sleep(ctx, clk, interval) != nil {
			return
		}
	}
}

// get performs one metadata GET and returns the status and body.
func get(ctx context.Context, c *http.Client, url string, hdr ...string) (int, []byte, error) {
	return do(ctx, c, http.MethodGet, url, hdr...)
}

func do(ctx context.Context, c *http.Client, method, url string, hdr ...string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, nil, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("metadata %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, b, err
}

// aws speaks IMDSv2: a session token first, then the two notices.
type aws struct {
	base  string
	c     *http.Client
	clock clock.Clock

	mu      sync.Mutex
	token   string
	expires time.Time
}

const awsTokenTTL = 6 * time.Hour

func (a *aws) sessionToken(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && a.clock.Now().Before(a.expires) {
		return a.token, nil
	}
	code, body, err := do(ctx, a.c, http.MethodPut, a.base+"/latest/api/token",
		"X-aws-ec2-metadata-token-ttl-seconds", fmt.Sprint(int(awsTokenTTL.Seconds())))
	if err != nil {
		return "", err
	}
	if code != http.StatusOK || len(body) == 0 {
		return "", fmt.Errorf("IMDSv2 token: HTTP %d", code)
	}
	a.token, a.expires = string(body), a.clock.Now().Add(awsTokenTTL-time.Minute)
	return a.token, nil
}

func (a *aws) Check(ctx context.Context) (*Notice, error) {
	tok, err := a.sessionToken(ctx)
	if err != nil {
		return nil, err
	}
	code, body, err := get(ctx, a.c, a.base+"/latest/meta-data/spot/instance-action", "X-aws-ec2-metadata-token", tok)
	if err != nil {
		return nil, err
	}
	switch code {
	case http.StatusOK:
		var ia struct {
			Action string    `json:"action"`
			Time   time.Time `json:"time"`
		}
		if err := json.Unmarshal(body, &ia); err != nil {
			return nil, fmt.Errorf("spot/instance-action: %w", err)
		}
		return &Notice{Kind: Terminate, Cloud: "aws", At: ia.Time}, nil
	case http.StatusUnauthorized:
		a.mu.Lock()
		a.token = "" // expired session: get a new one next time
		a.mu.Unlock()
		return nil, errors.New("spot/instance-action: IMDSv2 token rejected")
	case http.StatusNotFound:
	default:
		return nil, fmt.Errorf("spot/instance-action: HTTP %d", code)
	}
	code, body, err = get(ctx, a.c, a.base+"/latest/meta-data/events/recommendations/rebalance", "X-aws-ec2-metadata-token", tok)
	if err != nil {
		return nil, err
	}
	switch code {
	case http.StatusOK:
		var rb struct {
			NoticeTime time.Time `json:"noticeTime"`
		}
		if err := json.Unmarshal(body, &rb); err != nil {
			return nil, fmt.Errorf("rebalance recommendation: %w", err)
		}
		return &Notice{Kind: Rebalance, Cloud: "aws"}, nil
	case http.StatusNotFound:
		return nil, nil
	}
	return nil, fmt.Errorf("rebalance recommendation: HTTP %d", code)
}

type gcp struct {
	base  string
	c     *http.Client
	clock clock.Clock
}

func (g *gcp) Check(ctx context.Context) (*Notice, error) {
	code, body, err := get(ctx, g.c, g.base+"/computeMetadata/v1/instance/preempted", "Metadata-Flavor", "Google")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("gcp preempted: HTTP %d", code)
	}
	if strings.TrimSpace(string(body)) == "TRUE" {
		// GCP gives 30 s from the flag.
		return &Notice{Kind: Terminate, Cloud: "gcp", At: g.clock.Now().Add(30 * time.Second)}, nil
	}
	return nil, nil
}

type azure struct {
	base string
	c    *http.Client
}

func (z *azure) Check(ctx context.Context) (*Notice, error) {
	code, body, err := get(ctx, z.c, z.base+"/metadata/scheduledevents?api-version=2020-07-01", "Metadata", "true")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("azure scheduled events: HTTP %d", code)
	}
	var doc struct {
		Events []struct {
			EventType string `json:"EventType"`
			NotBefore string `json:"NotBefore"`
		} `json:"Events"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("azure scheduled events: %w", err)
	}
	for _, e := range doc.Events {
		if e.EventType == "Preempt" {
			at, _ := time.Parse(time.RFC1123, e.NotBefore)
			return &Notice{Kind: Terminate, Cloud: "azure", At: at}, nil
		}
	}
	return nil, nil
}
