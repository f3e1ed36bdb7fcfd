// Package fleet is the agent's side of the fleet API: it registers the
// node with the control plane using the fleet join token, keeps the node
// token it gets in a 0600 file, heartbeats every few seconds with the
// agent's slots, running jobs and conditions, and acts on the commands the
// control plane sends back (cordon: take no new jobs; drain: finish the
// running jobs, then exit; terminate: end the jobs now and exit). GitHub
// (github.go) is runner/github's runner API over the fleet API, for
// [[github]] tables with credentials = "fleet": the control plane mints and
// answers for the node's runners with the node token, so no GitHub
// credential is on the node; its answers' statuses mean what GitHub's do
// (runner/github.StatusKind: 409 on a delete is a busy runner), and a 429
// with Retry-After pauses the node's GitHub calls at its rate-limit gate.
package fleet
