// Command runner is the runfleet node agent. `runner register` adds a
// GitLab runner, a GitHub label-mode table or a GitHub scale set to the
// config; `runner run` builds one executor per container engine, shared by
// every source, and runs GitLab and GitHub jobs in the agent's one slot
// loop (runner.Agent) with node health, interruption notices, a periodic
// reap of leftovers and, with a [fleet] section, heartbeats to the fleet
// control plane; `runner exec` runs one job of a local .gitlab-ci.yml
// without GitLab; `runner verify|unregister|list` manage registrations.
package main
