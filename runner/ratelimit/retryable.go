package ratelimit

import (
	"context"
	"net/http"

	"github.com/hashicorp/go-retryablehttp"
)

// Retryable puts every attempt of c, a go-retryablehttp client, behind g,
// for clients that take such a client but no RoundTripper of ours
// (github.com/actions/scaleset insists on a bare *http.Transport under
// it): before each attempt, retries included, the request waits at the
// gate for its key (a request whose context ends meanwhile fails without
// being sent); every answer may extend the key's pause (limit); and an
// answer that pauses the key is retried, after the pause, like the 429s
// and 5xx the default policy retries. Requests whose key is "" pass
// ungated. It replaces c's RequestLogHook, ResponseLogHook and CheckRetry
// and returns c.
func (g *Gate) Retryable(c *retryablehttp.Client, key func(*http.Request) string, limit LimitFunc) *retryablehttp.Client {
	c.RequestLogHook = func(_ retryablehttp.Logger, req *http.Request, _ int) {
		if k := key(req); k != "" {
			_ = g.Wait(req.Context(), k) // on error the attempt fails on the ended context
		}
	}
	c.ResponseLogHook = func(_ retryablehttp.Logger, resp *http.Response) {
		if resp == nil || resp.Request == nil {
			return
		}
		if k := key(resp.Request); k != "" {
			if until, reason := limit(resp, g.clock.Now()); !until.IsZero() {
				g.Pause(k, until, reason)
			}
		}
	}
	c.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if err == nil && resp != nil && resp.Request != nil && key(resp.Request) != "" {
			if until, _ := limit(resp, g.clock.Now()); !until.IsZero() {
				return ctx.Err() == nil, ctx.Err()
			}
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	return c
}
