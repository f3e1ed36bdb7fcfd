// Package githubhook receives GitHub's workflow_job webhooks and keeps the
// count of queued jobs by label set: the GitHub demand signal the
// autoscaler's policy consumes (as policy.QueuedJobs). Deliveries are
// authenticated with X-Hub-Signature-256 before anything is parsed, bodies
// are capped, and answers are immediate (in-memory bookkeeping only).
package githubhook
