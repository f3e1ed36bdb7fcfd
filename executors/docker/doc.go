// Package docker implements executors.Executor on a Docker engine: one
// hardened job container per job, its services on a private bridge network,
// per-job volumes, steps run with docker exec, and cleanup of everything by
// label. It talks to the engine through the official Go client with API
// version negotiation, so it works against engines down to API 1.41.
package docker
