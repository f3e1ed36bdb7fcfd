// Package github is the GitHub Actions job source of the runner agent in
// label mode: for every free slot it mints a just-in-time (JIT) runner
// configuration through the REST API and starts the official runner in a
// container of the executor in use (RunnerLauncher); GitHub hands that
// runner one job, and when its container exits the slot is refilled.
//
// It owns the GitHub REST client (go-github, with GitHub App installation
// tokens from ghinstallation or a personal access token; organization,
// repository or enterprise scope; GitHub Enterprise Server URLs), rate-limit
// backoff, the JIT minting budget, and the bookkeeping that keeps no ghost
// registrations: runners that stopped before taking a job are deleted, busy
// runners never are (GitHub's refusal is authoritative), and this node's
// stale registrations are removed at start and on shutdown.
//
// StatusKind is the one mapping of an HTTP answer's status to the typed
// errors that drive those decisions (ErrRunnerBusy, ErrNotFound,
// ErrUnauthorized, ErrInvalid, ErrRateLimited), for GitHub's REST answers
// and for the fleet API's (runner/fleet) alike.
//
// Platform credentials stay in the agent: the only secret a runner
// container receives is its own encoded JIT config.
package github
