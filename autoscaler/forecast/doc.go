// Package forecast learns, online and only from the past, the shape of
// each workflow's runs — per (repository, workflow or pipeline name, label
// set): how many jobs a run produces, in which waves, at what offsets from
// the run's start and from each other, and how long they run — and turns
// the runs in progress into expected demand: jobs that will queue within a
// horizon (a cold boot, a warm start). It reads a stream of events (run
// started, job queued, job started, job finished) and no clock: every
// answer is about the time it is asked for, so the live control loop and
// the trace simulator feed it the same way. It does no I/O.
//
// A run's arrivals are split into waves (its stages: jobs queued less than
// Config.WaveGap apart). A run in progress is matched against the
// workflow's recent runs by progress, not by wall time: each past run
// predicts the jobs after the current run's latest wave at their distance
// from the start of its own wave of that rank, counted from the start of
// the current run's. A late stage thus shifts the rest of the prediction
// instead of leaving it behind. Per horizon the past runs' counts are
// averaged, or a quantile of them is taken (Config.Quantile) to plan for
// the runs whose waves came early. A predicted arrival that does not come
// within Config.Overdue is dropped, so a wrong forecast costs little and
// heals; Error measures it.
//
// Two options serve the policy's cost/wait trade-off. Config.RateWindow
// measures the rate of unannounced arrivals (jobs queued with their run's
// start, or of no run: nothing could announce them), which Expected turns
// into policy.ExpectedJobs.Unannounced for pools that size their idle
// buffer by risk. Config.MaxFlowError scores each workflow's own
// predictions (a decayed WAPE) and stops using those of a workflow whose
// predictions keep failing until they come true again.
package forecast
