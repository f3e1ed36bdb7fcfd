// Package bootstrap tests how a machine becomes a runfleet node, for real: it renders the
// aws-fleet module's node user-data (terraform/modules/aws-fleet/templates) exactly as
// Terraform's templatefile does, runs it as root inside a fresh Debian bookworm container
// (made offline from the Debian mirror by images/job-base/build-offline.sh, once per test
// binary) with the AWS side stubbed by fakenode (IMDSv2 on 169.254.169.254 inside the
// container, the AWS CLI's secret calls, systemctl, the CloudWatch agent), and checks what
// it leaves behind: the engine installed from the mirror, the agent binary, the agent config
// (0600, accepted by runner/config), the systemd unit with its restart policy. It also
// builds the Dockerfiles under images/ that need no registry and syntax-checks the rest.
// The tests need the Docker engine and fail when it is absent. The package has no non-test
// code.
package bootstrap
