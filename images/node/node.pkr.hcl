# runfleet node image (AMI) for the aws-fleet module's `ami_id`: Debian 12 with the container
# engine, the runfleet agent, the CloudWatch agent and the usual job images already in place,
# so a node launched from it takes jobs seconds after boot instead of minutes.
#
# The image is made by the node user-data itself — the aws-fleet module's
# templates/node-user-data.sh.tftpl, rendered here with templatefile() and run with
# RUNFLEET_BOOTSTRAP_PHASE=install — so the baked image and a stock node cannot drift apart.
# At boot the same user-data (from the launch template) finds everything installed, skips
# installation and only writes the config from the secret store and starts the agent.
#
#   packer init images/node
#   packer build -var region=eu-west-1 -var agent_version=v0.4.1 \
#     -var agent_sha256=<sha256 of runner-linux-amd64> images/node
#
# No secret is involved: the install phase never reads the secret store.
# tests/bootstrap bakes an image the same way in a Debian container and boots it.

packer {
  required_version = ">= 1.10.0"
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = "~> 1.3"
    }
  }
}

variable "region" {
  type        = string
  description = "AWS region the AMI is built in (copy it elsewhere with ami_regions)."
}

variable "ami_regions" {
  type        = list(string)
  description = "Further regions to copy the AMI to."
  default     = []
}

variable "architecture" {
  type        = string
  description = "x86_64 or arm64; must match the fleet's instance_types."
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "The architecture must be x86_64 or arm64."
  }
}

variable "instance_type" {
  type        = string
  description = "Builder instance type (of the architecture)."
  default     = "m6i.large"
}

variable "subnet_id" {
  type        = string
  description = "Subnet of the builder instance (needs egress to the Debian mirror, the agent URL and the registries of prepull_images). Empty: the default VPC."
  default     = ""
}

variable "agent_version" {
  type        = string
  description = "runfleet release baked in (a tag such as v0.4.1); also names the AMI."
}

variable "agent_url" {
  type        = string
  description = "Where the runner binary comes from (https:// or s3://). Empty: the agent_version release on GitHub."
  default     = ""
}

variable "agent_sha256" {
  type        = string
  description = "SHA-256 of the runner binary. Give the same value to the module's agent_sha256 so nodes keep the baked binary."

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.agent_sha256))
    error_message = "The agent_sha256 must be 64 lower-case hex digits."
  }
}

variable "prepull_images" {
  type        = list(string)
  description = "Job images pulled into the engine's store, so the first jobs start without a pull. Pin them by digest for reproducible images."
  default     = ["debian:bookworm-slim@sha256:63a496b5d3b99214b39f5ed70eb71a61e590a77979c79cbee4faf991f8c0783e"]
}

variable "root_volume_size" {
  type        = number
  description = "Root volume of the image in GiB (nodes may grow it: the module's root_volume_size)."
  default     = 20
}

locals {
  deb_arch  = var.architecture == "arm64" ? "arm64" : "amd64"
  agent_url = var.agent_url != "" ? var.agent_url : "https://github.com/runfleet/runfleet/releases/download/${var.agent_version}/runner-linux-${local.deb_arch}"
  stamp     = formatdate("YYYYMMDDhhmmss", timestamp())

  # The values the install phase uses are real; the others are only read at boot, from the
  # launch template's rendering of the same template, and are placeholders here.
  bootstrap = templatefile("${path.root}/../../terraform/modules/aws-fleet/templates/node-user-data.sh.tftpl", {
    platform               = "gitlab"
    fleet_name             = "image-bake"
    gitlab_url             = "https://gitlab.invalid"
    github_runner_image    = ""
    runner_labels_toml     = ""
    runner_secret_arn      = "arn:aws:ssm:${var.region}:000000000000:parameter/unused-at-bake"
    fleet_join_token_arn   = ""
    fleet_ca_arn           = ""
    autoscaler_endpoint    = ""
    region                 = var.region
    deb_arch               = local.deb_arch
    agent_url              = local.agent_url
    agent_sha256           = var.agent_sha256
    slots_per_node         = "1"
    shutdown_timeout       = "90"
    stop_timeout           = "120"
    job_image              = join(" ", var.prepull_images)
    job_cpus               = ""
    job_memory             = ""
    job_pids_limit         = ""
    job_shm_size           = ""
    log_group              = ""
    cache_bucket           = ""
    asg_name               = ""
    warm_pool_hook         = ""
  })
}

# Official Debian 12 images (account 136693071363), as the module's default AMI.
data "amazon-ami" "debian" {
  region      = var.region
  owners      = ["136693071363"]
  most_recent = true
  filters = {
    name                = "debian-12-${local.deb_arch}-*"
    architecture        = var.architecture
    virtualization-type = "hvm"
  }
}

source "amazon-ebs" "node" {
  region        = var.region
  ami_regions   = var.ami_regions
  source_ami    = data.amazon-ami.debian.id
  instance_type = var.instance_type
  subnet_id     = var.subnet_id
  ssh_username  = "admin"
  ami_name      = "runfleet-node-${var.agent_version}-${local.deb_arch}-${local.stamp}"
  imds_support  = "v2.0"
  encrypt_boot  = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = var.root_volume_size
    volume_type           = "gp3"
    delete_on_termination = true
  }

  tags = {
    Name                     = "runfleet-node-${var.agent_version}"
    "runfleet:image"         = "node"
    "runfleet:agent-version" = var.agent_version
    "runfleet:agent-sha256"  = var.agent_sha256
    "runfleet:source-ami"    = "{{ .SourceAMI }}"
  }
}

build {
  sources = ["source.amazon-ebs.node"]

  provisioner "file" {
    content     = local.bootstrap
    destination = "/tmp/runfleet-bootstrap.sh"
  }

  provisioner "shell" {
    inline = [
      "sudo env RUNFLEET_BOOTSTRAP_PHASE=install RUNFLEET_PREPULL_IMAGES='${join(" ", var.prepull_images)}' bash /tmp/runfleet-bootstrap.sh",
      # Leave no trace of this instance: nodes must boot as new machines.
      "sudo rm -rf /tmp/runfleet-bootstrap.sh /var/log/runfleet-bootstrap.log /etc/runfleet",
      "sudo cloud-init clean --logs",
      "sudo truncate -s 0 /etc/machine-id",
    ]
  }
}
