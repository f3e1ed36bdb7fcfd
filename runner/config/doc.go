// Package config owns the agent's configuration: the TOML file that
// operators edit (gitlab-runner's shape, so migration is a copy), its
// environment overrides, and the typed runtime configuration the agent runs
// on, with byte sizes and durations parsed once at load time.
//
// A config.toml written or documented by gitlab-runner 17/18 loads
// unchanged: the keys runfleet implements keep gitlab-runner's meaning and
// types (types.go), the gitlab-runner keys it does not implement are
// accepted with one Warning each saying what runfleet does instead
// (gitlab.go), and any other key is an UnknownKeyError with the closest
// known key (unknown.go). Rewrites (token rotation, unregister) keep every
// key (rewrite.go).
//
// Besides a few top-level keys (node_name, reap_interval) and a few of
// [[runners]] (sources_store_ttl, warm_containers: true keeps a sources
// helper and a job container ahead of each slot's next job, false
// neither, unset the helper and, on containerd only, the job container),
// runfleet's own settings live in tables gitlab-runner does not have, so
// a gitlab-runner file never collides with them: [interruption] (spot
// notices), [fleet] (the control plane this node joins, fleet.go),
// [cleanup] (cleanup.go: timeout, the bound of a finished job's engine
// cleanup and of the shutdown's wait for those in flight, default 120 s;
// start_hold, the longest a cleanup waits while jobs start, default 5 s;
// each whole seconds > 0) and the [[github]] and [[github_scale_set]]
// sources.
package config
