// Package docker is the local fleet provider: each node is a container on
// the local Docker engine running the agent image (images/runner-dev),
// labelled with provider.Label*, which registers itself with the control
// plane through the fleet API using the fleet URL and join token it gets
// in its environment.
//
// SECURITY — READ THIS: a node container gets the host's Docker socket
// mounted (it runs its jobs as sibling containers on the same engine),
// host networking and NET_ADMIN (to install the rule that keeps jobs away
// from the cloud metadata endpoint). Access to the engine socket is root
// on the host. That is acceptable for a local development fleet, the demo
// and the end-to-end tests — the node containers run only the runfleet
// agent — and it is why this provider is not for production: there, nodes
// are VMs (autoscaler/provider/aws). Job containers never get the socket:
// the agent's executor creates them unprivileged, without the socket,
// exactly as on a VM.
package docker
