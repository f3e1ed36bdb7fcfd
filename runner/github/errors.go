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

// Typed errors that drive decisions, for GitHub's REST API and for the
// fleet API that answers for it on a fleet node alike (StatusKind).
var (
	// ErrRunnerBusy: the runner runs a job, so its registration stays
	// (GitHub's 422 "still running a job", the fleet API's 409).
	ErrRunnerBusy = errors.New("runner is busy")
	// ErrNotFound: the runner, group or target does not exist (or the
	// credentials cannot see it).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the credentials were rejected (401) or lack the
	// permission (403).
	ErrUnauthorized = errors.New("credentials rejected")
	// ErrRateLimited: a rate limit would not lift within MaxRateLimitWait,
	// or the answer was 429.
	ErrRateLimited = errors.New("rate limited")
	// ErrInvalid: the request was refused: malformed (400), in conflict
	// with the present state (409: a runner of that name exists; on a
	// fleet node, its slots are full) or failing validation (422).
	ErrInvalid = errors.New("request rejected")
)

// StatusKind is the typed error an HTTP status answering a runner API
// call means, nil when the status decides nothing (5xx and the rest are
// plain failures). It is the one mapping of GitHub's REST answers
// (Client) and of the fleet API's, which passes GitHub's meaning on
// (runner/fleet.GitHub):
//
//	400            ErrInvalid (a malformed request)
//	401, 403       ErrUnauthorized
//	404            ErrNotFound
//	409, 422       ErrInvalid, or ErrRunnerBusy when deleting: the runner's
//	               state conflicts with its removal (GitHub answers 422
//	               "Runner … is still running a job", the fleet API 409)
//	429            ErrRateLimited
//
// deleting says the call deletes a runner registration.
func StatusKind(code int, deleting bool) error {
	switch code {
	case http.StatusBadRequest:
		return ErrInvalid
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrUnauthorized
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict, http.StatusUnprocessableEntity:
		if deleting {
			return ErrRunnerBusy
		}
		return ErrInvalid
	case http.StatusTooManyRequests:
		return ErrRateLimited
	}
	return nil
}

// classify wraps a go-github error in the typed error its status means
// (StatusKind).
func classify(op string, deleting bool, err error) error {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		if kind := StatusKind(er.Response.StatusCode, deleting); kind != nil {
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
	return c.callAs(ctx, op, false, fn)
}

// callAs is call for a call that deletes a runner registration when
// deleting is set (StatusKind).
func (c *Client) callAs(ctx context.Context, op string, deleting bool, fn func(context.Context) error) error {
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
			return classify(op, deleting, err)
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
