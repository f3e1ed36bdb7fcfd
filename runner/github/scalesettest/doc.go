// Package scalesettest is a strict, in-process fake of GitHub's runner
// scale-set service as the github.com/actions/scaleset client (v0.4.0)
// talks to it, for tests.
//
// It serves, under a GitHub Enterprise Server style API root (/api/v3):
//
//   - the registration exchange: POST …/actions/runners/registration-token
//     (Bearer PAT) → 201 {token, expires_at}, then
//     POST /actions/runner-registration (RemoteAuth <token>) → {url, token}
//     where url is the Actions service ("tenant") root and token a JWT admin
//     token;
//   - the Actions service under that root (Bearer admin token,
//     api-version=6.0-preview): runner groups, scale-set CRUD
//     (_apis/runtime/runnerscalesets), message sessions (a second session
//     on a scale set answers 409 RunnerScaleSetSessionConflictException),
//     acquirejobs (Bearer message-queue token), generatejitconfig, and the
//     runner (agent) list/get/delete under _apis/distributedtask/pools/0/agents;
//   - the message queue: GET <messageQueueUrl>?lastMessageId=N with the
//     X-ScaleSetMaxCapacity header long-polls and answers 200 with one
//     RunnerScaleSetJobMessages batch (JobAvailable, JobAssigned,
//     JobStarted, JobCompleted with their queue/assign/finish times and the
//     scale set's statistics) or 202 when nothing arrived; DELETE
//     <messageQueueUrl>/<messageId> acknowledges (204).
//
// Tests drive the job side through methods: QueueJob routes a job to the
// scale set its runs-on labels target, StartJob and CompleteJob play the
// runner's part, DeleteScaleSet plays GitHub removing an offline scale set
// (later calls answer 404 RunnerScaleSetNotFoundException), HoldSession
// opens a foreign session to provoke 409s. Everything the client did is
// recorded (acknowledged message ids, acquire calls, sessions, JIT configs),
// and protocol violations (bad auth, unknown ids, malformed bodies, missing
// headers) are answered like the service answers them and reported as test
// errors when the test ends.
//
// The v0.4.0 client does not send ETag/If-None-Match on the message poll;
// the resume point is lastMessageId alone, and the fake follows that.
package scalesettest
