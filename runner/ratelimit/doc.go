// Package ratelimit is the agent's rate-limit discipline: one Gate per agent
// holds, for each platform credential (a GitLab runner token, a GitHub App
// or token), the time before which no call made with that credential may
// leave the node. A 429 with Retry-After (or RateLimit-Reset, or GitHub's
// x-ratelimit-reset and secondary limits) seen by any goroutine pauses every
// other one that shares the credential: job requests of every slot, trace
// patches, job updates and artifact transfers.
//
// Transport wraps an http.RoundTripper so that every attempt, retries
// included, waits at the gate first and every answer can extend the pause;
// Gate.Retryable does the same through the hooks of a go-retryablehttp
// client, for libraries that take such a client but no RoundTripper (the
// GitHub scale-set client).
package ratelimit
