// Package containerd implements executors.Executor on a containerd daemon
// (1.6 and newer) through its Go client: one hardened container and task
// per job in the executor's own namespace, a lease per job so nothing the
// job creates outlives it, steps run as task execs (or, with
// CreateFirstStep, the first step as the job container's own task, and
// later steps as execs in a second container of the same spec started on
// demand, as the Docker executor does), per-job networks set
// up with CNI (bridge, host-local IPAM, firewall and loopback plugins),
// services in their own network namespaces on the job's bridge and
// reached by alias through a generated /etc/hosts, and cleanup of
// everything by label. Images are pulled from registries, or imported
// offline from docker-save/OCI archives with ImportArchive.
package containerd
