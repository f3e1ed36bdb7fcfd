// Package githubhook receives GitHub's workflow_job webhooks and keeps the
// count of queued jobs by label set: the GitHub demand signal the
// autoscaler's policy consumes (Queued(ctx) → []policy.QueuedJobs).
// Deliveries are authenticated with X-Hub-Signature-256 before anything
// is parsed (bad signatures answer 401 and are counted), bodies are capped
// and read under a one-second deadline, and answers are immediate
// (in-memory bookkeeping only).
//
// Deliveries are best effort and never redelivered automatically, so a
// periodic Reconcile lists the queued jobs of the configured repositories
// through the REST API (go-github) and repairs what lost deliveries left
// wrong, without undoing deliveries that arrive while it runs.
package githubhook
