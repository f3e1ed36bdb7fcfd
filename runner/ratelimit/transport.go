package ratelimit

import (
	"net/http"
	"time"
)

// LimitFunc reads an answer and says until when its credential must pause
// (zero when it need not) and why. It may read the body only if it puts
// an equivalent one back.
type LimitFunc func(resp *http.Response, now time.Time) (until time.Time, reason string)

// Transport makes every request wait at the gate for its credential, then
// extends the credential's pause from the answer. Requests whose Key is ""
// (e.g. a redirect to object storage without the platform credential) pass
// through ungated.
type Transport struct {
	Next  http.RoundTripper
	Gate  *Gate
	Key   func(*http.Request) string
	Limit LimitFunc
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	key := t.Key(req)
	if key != "" {
		if err := t.Gate.Wait(req.Context(), key); err != nil {
			if req.Body != nil {
				_ = req.Body.Close() // a RoundTripper always closes the body
			}
			return nil, err
		}
	}
	resp, err := t.Next.RoundTrip(req)
	if err != nil || key == "" {
		return resp, err
	}
	if until, reason := t.Limit(resp, t.Gate.clock.Now()); !until.IsZero() {
		t.Gate.Pause(key, until, reason)
	}
	return resp, nil
}
