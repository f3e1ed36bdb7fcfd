// Package gitlab is runfleet's GitLab CI job source. It speaks GitLab's
// runner API (/api/v4: wire types, an HTTP client with typed errors,
// retries and one rate-limit gate per runner token) and plugs into the
// agent's slot loop as a runner.Source: a free slot long-polls
// jobs/request, accepts the job with the two-phase commit and runs it
// (build): services and the job container through the engine's executor,
// sources (fetched into a store only the agent sees, checked out by a
// helper container while the job container starts held at a gate:
// sources.go, build_first.go), cache and artifacts, the script steps and
// after_script, then the final update, exactly once. Each slot keeps a
// sources helper and a job container created ahead for its next job of
// the same kind (Warm: warm.go, warmjob.go); the job hands its script
// and variables to the waiting container. The slots' source
// stores are swept by the agent's periodic reaper (SourceStores). The job log streams
// as incremental trace patches with masking (Trace, Masker). The package
// also renews the runner's token (RotateToken), keeps the runner manager's
// system ID, reports the jobs a killed agent left unfinished
// (RecoverJob), and runs one job of a local .gitlab-ci.yml without GitLab
// (RunLocal, `runner exec`). Job states and failure reasons are the
// agent's one vocabulary (runner.State, runner.FailureReason) as wire
// strings; time comes from runner/clock.
package gitlab
