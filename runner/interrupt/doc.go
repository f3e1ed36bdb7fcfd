// Package interrupt watches the cloud's instance metadata for notices
// that the node is about to be taken away: AWS spot interruption
// (instance-action) and rebalance recommendations through IMDSv2, GCP
// preemption, Azure Scheduled Events "Preempt". The metadata endpoint is
// configurable, so tests (and unusual clouds) point it elsewhere.
package interrupt
