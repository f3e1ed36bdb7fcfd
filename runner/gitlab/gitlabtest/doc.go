// Package gitlabtest is a strict, in-process fake of the GitLab coordinator
// for tests: the runner API under /api/v4 (runner verify/register/unregister,
// jobs/request with long polling, job updates, incremental traces, artifact
// upload and download) and smart-HTTP git hosting of real repositories
// guarded by job tokens.
//
// The fake follows GitLab's documented runner API and answers like GitLab
// does:
// it rejects what GitLab rejects (bad tokens, a Content-Range that does not
// start at the stored log size, a final update whose checksum does not match
// the received log, a failure_reason the job did not offer, a second final
// update, ...). Everything is recorded — every request with its status, the
// job log, the final updates, uploaded artifacts, events — so tests can
// assert on it. Protocol violations a runner commits are collected and, by
// default, reported as test errors when the test ends.
//
// Faults (5xx, 429 with Retry-After, hangs, one-off 416/412/202 answers) are
// injected per endpoint with FaultPlan, deterministically from a seed. A 429
// with Retry-After binds the whole runner, as GitLab's limits do: any call
// made with its runner token or one of its jobs' tokens before the time has
// passed is a protocol violation (EarlyCalls), on any connection, past a
// short in-flight grace (WithInFlightGrace).
package gitlabtest
