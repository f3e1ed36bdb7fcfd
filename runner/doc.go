// Package runner is the node agent's core: job slots bounded by the global
// concurrency and each runner's limit, the loop that acquires a job for a
// free slot and runs it, graceful shutdown, and the agent's metrics and
// health endpoint. Platforms plug in as Sources (runner/gitlab, later
// runner/github); the core knows nothing about either.
package runner
