// Package e2e holds end-to-end tests of `runner run` and `runner exec`: the
// real agent binary against the strict fake GitLab (gitlabtest) and the
// real Docker engine. They fail loudly when Docker is unreachable.
//
// No wait can hang: polls go through waitFor, HTTP probes through
// probeClient (a per-call timeout), channel waits through waitDone or a
// select with a deadline, and CLI runs through combinedOutput; every
// timeout fails the test naming what it waited for. Agents and control
// planes run with cmd.WaitDelay, so a child that inherited their output
// pipes cannot keep a killed process's Wait open.
package e2e
