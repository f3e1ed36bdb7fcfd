// Package docker implements executors.Executor on a Docker engine: one
// hardened job container per job, its services on a private bridge network,
// per-job volumes, steps run with docker exec, and cleanup of everything by
// label. It talks to the engine through the official Go client with API
// version negotiation, so it works against engines down to API 1.41.
//
// A first step that ends abnormally (its container killed, its output or
// wait broken) is checked against the engine at once (enginestop.go): an
// engine that stopped or restarted under the job, however fast it came
// back, fails the job with ErrEngine; a container killed from outside
// while the engine kept running returns its real exit status.
package docker
