// Package gitlab is runfleet's client for GitLab's runner API (/api/v4):
// the wire types of the job payload and of the request/update bodies, an
// HTTP client with typed errors and transport-level retries, the incremental
// job log sender (Trace) with its masking writer (Masker), a capped
// exponential Backoff, and the runner manager's system ID.
//
// The package owns the protocol only; the job loop that polls for jobs and
// executes them builds on it.
package gitlab
