// Package githubhook receives GitHub's workflow_job webhooks and keeps the
// count of queued jobs by label set: the GitHub demand signal the
// autoscaler's policy consumes (Queued(ctx) → []policy.QueuedJobs).
//
// Deliveries are authenticated with X-Hub-Signature-256 ("sha256=" HMAC of
// the body; the legacy SHA-1 header is refused) before anything is parsed.
// Bad signatures answer 401 and are counted, with at most one warning a
// minute in the log. Only event names GitHub sends are accepted, each
// X-GitHub-Delivery id is applied once within a replay window (a bounded
// set on the injected clock), bodies are capped and read under a
// one-second deadline, and answers are immediate (in-memory bookkeeping
// only). No header value becomes a metric label: until the signature is
// verified the event label is "unverified", and after it only names from
// fixed lists appear.
//
// Deliveries are best effort and never redelivered automatically, so a
// periodic Reconcile lists the queued jobs of the configured repositories
// through the REST API (go-github) and repairs what lost deliveries left
// wrong, without undoing deliveries that arrive while it runs. Queued jobs
// of repositories it does not watch expire after a TTL instead.
//
// With Options.Forecast set, the receiver also feeds the forecaster
// (workflow.go): workflow_run deliveries (requested, in_progress) start a
// run, workflow_job deliveries queue, start and finish its jobs, keyed by
// repository, workflow name, run id and attempt, with GitHub's own times.
// The reconcile feeds what it lists of the runs in progress, so a lost
// delivery is recovered; each run and job step is fed once whichever way
// it arrives first.
package githubhook
