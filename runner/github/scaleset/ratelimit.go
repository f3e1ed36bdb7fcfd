package scaleset

import (
	"net/http"
	"time"

	actions "github.com/actions/scaleset"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/runfleet/runfleet/runner/ratelimit"
)

// RateGate puts every call of a scale-set client behind the agent's
// rate-limit gate (runner/ratelimit), under the key label mode uses for
// the same GitHub App or token (runner/github.NewClient): a 429 or 403
// with Retry-After, an exhausted primary limit (x-ratelimit-reset) or a
// secondary limit seen by any call — registration tokens, the Actions
// service, message polls, JIT configs, label mode's REST calls — pauses
// every other call with the credential until the time has passed.
//
// github.com/actions/scaleset takes no RoundTripper of ours (it requires
// a bare *http.Transport under its go-retryablehttp client), so the gate
// sits in the retryable client's hooks (ratelimit.Gate.Retryable). The
// module rewrites a given client's retry policy while it fetches its
// admin connection, so each client of the module (the scale-set client,
// each message session) gets one of its own: HTTPOption makes a new one
// on every call.
type RateGate struct {
	Gate *ratelimit.Gate
	// Key is the credential's gate key (github.GateKey).
	Key string
}

// Retries of the gated client: the module's defaults.
const (
	gatedRetryMax     = 4
	gatedRetryWaitMax = 30 * time.Second
)

// HTTPOption returns a scale-set client option with a new gated
// retryable HTTP client; nil g gives no option (the module's own client).
func (g *RateGate) HTTPOption() []actions.HTTPOption {
	return g.option(gatedRetryMax, gatedRetryWaitMax)
}

// FailFastHTTPOption is HTTPOption without retries: an answer that
// pauses the credential fails the call at once (the gate keeps the pause
// for the calls after it), for a caller that answers for someone else and
// passes the wait on rather than sleep on it (the control plane's fleet
// API handlers: 429 with Retry-After to the node).
func (g *RateGate) FailFastHTTPOption() []actions.HTTPOption {
	return g.option(0, 0)
}

func (g *RateGate) option(retryMax int, retryWaitMax time.Duration) []actions.HTTPOption {
	if g == nil || g.Gate == nil {
		return nil
	}
	c := retryablehttp.NewClient()
	c.RetryMax = retryMax
	if retryWaitMax > 0 {
		c.RetryWaitMax = retryWaitMax
	}
	key := g.Key
	g.Gate.Retryable(c, func(*http.Request) string { return key }, ratelimit.GitHubLimit)
	return []actions.HTTPOption{actions.WithRetryableHTTPClint(c)}
}
