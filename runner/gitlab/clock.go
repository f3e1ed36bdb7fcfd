package gitlab

import "github.com/runfleet/runfleet/runner/clock"

// Clock is the time source of the Client and the Trace: the agent's one
// clock (runner/clock); tests inject their own or run the real one under
// testing/synctest.
type Clock = clock.Clock

// Timer is the part of *time.Timer the package uses.
type Timer = clock.Timer

// realClock is the wall clock.
type realClock = clock.Real
