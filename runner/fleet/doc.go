// Package fleet is the agent's side of the fleet API: it registers the
// node with the control plane using the fleet join token, keeps the node
// token it gets in a 0600 file, heartbeats every few seconds with the
// agent's slots, running jobs and conditions, and acts on the commands the
// control plane sends back (cordon: take no new jobs; drain: finish the
// running jobs, then exit; terminate: end the jobs now and exit).
package fleet
