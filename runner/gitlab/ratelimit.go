package gitlab

import (
	"net/http"

	"github.com/runfleet/runfleet/runner/ratelimit"
)

// GitLab's rate limits apply to the runner: its own calls carry the runner
// token, its jobs' calls carry their job tokens. The client keys the gate
// by runner token for both, mapping each job token to the runner token that
// requested the job.

// credentialKey is the gate key of a request: the runner token's, or, for
// a job token, that of the runner that took the job (the job token's own
// when unknown). Requests without a GitLab credential (legacy
// registration, object storage after a redirect) are not gated.
func (c *Client) credentialKey(req *http.Request) string {
	if t := req.Header.Get(headerRunnerToken); t != "" {
		return ratelimit.Key("gitlab", t)
	}
	t := req.Header.Get(headerJobToken)
	if t == "" {
		return ""
	}
	c.jobsMu.Lock()
	rt, ok := c.jobRunner[t]
	c.jobsMu.Unlock()
	if ok {
		return ratelimit.Key("gitlab", rt)
	}
	return ratelimit.Key("gitlab", t)
}

// BindJob makes calls with jobToken share the rate-limit gate of
// runnerToken. RequestJob binds the jobs it hands out; a job taken over
// from a journal after a restart is bound by its owner.
func (c *Client) BindJob(jobToken, runnerToken string) {
	if jobToken == "" || runnerToken == "" {
		return
	}
	c.jobsMu.Lock()
	defer c.jobsMu.Unlock()
	c.jobRunner[jobToken] = runnerToken
}

// unbindJob forgets a job whose final state GitLab acknowledged.
func (c *Client) unbindJob(jobToken string) {
	c.jobsMu.Lock()
	defer c.jobsMu.Unlock()
	delete(c.jobRunner, jobToken)
}
