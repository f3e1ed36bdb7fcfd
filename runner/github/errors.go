package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v92/github"
)

// Typed errors that drive decisions.
var (
	// ErrRunnerBusy: GitHub refused to delete a runner that runs a job.
	ErrRunnerBusy = errors.New("runner is busy")
	// ErrNotFound: the runner, group or target does not exist (or the
	// credentials cannot see it).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the credentials were rejected (401) or lack the
	// permission (403).
	ErrUnauthorized = errors.New("credentials rejected")
	// ErrRateLimited: a rate limit would not lift within MaxRateLimitWait.
	ErrRateLimited = errors.New("rate limited")
	// ErrInvalid: GitHub rejected the request (422, 409).
	ErrInvalid = errors.New("request rejected")
)

// classify wraps a go-github error in the typed error its status means.
func classify(op string, err error) error {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		var kind error
		switch er.Response.StatusCode {
		case http.StatusNotFound:
			kind = ErrNotFound
		case http.StatusUnauthorized, http.StatusForbidden:
			kind = ErrUnauthorized
		case http.StatusUnprocessableEntity, http.StatusConflict, http.StatusBadRequest:
			kind = ErrInvalid
		}
		if kind != nil {
			return fmt.Errorf("github: %s: %w: %w", op, kind, err)
		}
	}
	var he *ghinstallation.HTTPError
	if errors.As(err, &he) && he.Response != nil && he.Response.StatusCode/100 == 4 {
		return fmt.Errorf("github: %s: installation token: %w: %w", op, ErrUnauthorized, err)
	}
	return fmt.Errorf("github: %s: %w", op, err)
}

// call runs fn, waiting out primary and secondary rate limits (go-github
// reports them as *RateLimitError and *AbuseRateLimitError, and refuses
// to call GitHub again before a known reset).
func (c *Client) call(ctx context.Context, op string, fn func(context.Context) error) error {
	secondary := time.Minute
	for attempt := 0; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		var wait time.Duration
		var rl *gh.RateLimitError
		var ab *gh.AbuseRateLimitError
		switch {
		case errors.As(err, &rl):
			wait = time.Until(rl.Rate.Reset.Time) + time.Second
		case errors.As(err, &ab):
			// Without Retry-After GitHub asks for at least a minute, more
			// on repeats.
			wait = secondary
			if ab.RetryAfter != nil && *ab.RetryAfter > 0 {
				wait = *ab.RetryAfter
			}
			secondary = min(2*secondary, 15*time.Minute)
		default:
			return classify(op, err)
		}
		wait = max(wait, time.Second)
		if wait > c.maxWait || attempt >= 5 {
			return fmt.Errorf("github: %s: %w (next try in %s): %w", op, ErrRateLimited, wait.Round(time.Second), err)
		}
		c.log.WarnContext(ctx, "GitHub rate limit: waiting before retrying", "op", op, "wait", wait.Round(time.Millisecond))
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("github: %s: waiting out a rate limit: %w", op, err)
		}
	}
}
