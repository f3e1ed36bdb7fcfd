package ratelimit

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultPause is how long a 429 without any time hint pauses its
// credential.
const DefaultPause = time.Second

// SecondaryPause is GitHub's documented wait after a secondary rate limit
// answer without Retry-After: at least one minute.
const SecondaryPause = time.Minute

// maxHint caps what a header may ask for, against nonsense values.
const maxHint = 24 * time.Hour

// RetryAfter reads Retry-After: delay-seconds or an HTTP date. ok is false
// when the header is absent or unreadable.
func RetryAfter(h http.Header, now time.Time) (time.Time, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return time.Time{}, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return time.Time{}, false
		}
		return now.Add(min(time.Duration(s)*time.Second, maxHint)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return capped(t, now), true
	}
	return time.Time{}, false
}

// capped keeps t within [now, now+maxHint].
func capped(t, now time.Time) time.Time {
	if t.Before(now) {
		return now
	}
	if limit := now.Add(maxHint); t.After(limit) {
		return limit
	}
	return t
}

// unixReset reads a header holding a Unix time in seconds.
func unixReset(h http.Header, name string, now time.Time) (time.Time, bool) {
	s, err := strconv.ParseInt(strings.TrimSpace(h.Get(name)), 10, 64)
	if err != nil || s <= 0 {
		return time.Time{}, false
	}
	return capped(time.Unix(s, 0), now), true
}

// GitLabLimit reads GitLab's answers: a 429 pauses its credential until
// Retry-After, else RateLimit-Reset (Unix seconds), else
// RateLimit-ResetTime (HTTP date), else DefaultPause; a 503 with
// Retry-After pauses it as asked.
func GitLabLimit(resp *http.Response, now time.Time) (time.Time, string) {
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		if t, ok := RetryAfter(resp.Header, now); ok {
			return t, "429 Retry-After"
		}
		if t, ok := unixReset(resp.Header, "RateLimit-Reset", now); ok {
			return t, "429 RateLimit-Reset"
		}
		if v := strings.TrimSpace(resp.Header.Get("RateLimit-ResetTime")); v != "" {
			if t, err := http.ParseTime(v); err == nil {
				return capped(t, now), "429 RateLimit-ResetTime"
			}
		}
		return now.Add(DefaultPause), "429"
	case http.StatusServiceUnavailable:
		if t, ok := RetryAfter(resp.Header, now); ok {
			return t, "503 Retry-After"
		}
	}
	return time.Time{}, ""
}

// GitHubLimit reads GitHub's answers: Retry-After on a 403 or 429 (a
// secondary limit), an exhausted primary limit (x-ratelimit-remaining: 0)
// until x-ratelimit-reset, and a secondary-limit 403/429 without headers
// for SecondaryPause.
func GitHubLimit(resp *http.Response, now time.Time) (time.Time, string) {
	limited := resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests
	if limited {
		if t, ok := RetryAfter(resp.Header, now); ok {
			return t, "secondary rate limit (Retry-After)"
		}
	}
	if strings.TrimSpace(resp.Header.Get("X-Ratelimit-Remaining")) == "0" {
		if t, ok := unixReset(resp.Header, "X-Ratelimit-Reset", now); ok {
			return t, "primary rate limit exhausted"
		}
	}
	if limited && secondaryBody(resp) {
		return now.Add(SecondaryPause), "secondary rate limit"
	}
	return time.Time{}, ""
}

// secondaryBody peeks at the start of the body for GitHub's secondary-limit
// message, leaving the body readable.
func secondaryBody(resp *http.Response) bool {
	if resp.Body == nil {
		return false
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	if err != nil {
		return false
	}
	return bytes.Contains(bytes.ToLower(head), []byte("secondary rate limit"))
}
