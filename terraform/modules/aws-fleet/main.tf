# Shared lookups and derived values. Resources live in files by concern:
# nodes.tf (launch template, Auto Scaling group), autoscaler.tf, iam.tf, network.tf,
# logs.tf, cache.tf, interruptions.tf.

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_subnet" "first" {
  id = var.subnet_ids[0]
}

data "aws_subnet" "autoscaler" {
  id = local.autoscaler_subnet_id
}

# Official Debian 12 images (account 136693071363 publishes them).
data "aws_ami" "debian" {
  count       = var.ami_id == null ? 1 : 0
  most_recent = true
  owners      = ["136693071363"]

  filter {
    name   = "name"
    values = ["debian-12-${local.deb_arch}-*"]
  }

  filter {
    name   = "architecture"
    values = [var.architecture]
  }

  filter {
    name   = "virtualization-type"
    values = ["hvm"]
  }
}

locals {
  deb_arch = var.architecture == "arm64" ? "arm64" : "amd64"
  ami_id   = var.ami_id != null ? var.ami_id : data.aws_ami.debian[0].id
  vpc_id   = data.aws_subnet.first.vpc_id

  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  autoscaler_subnet_id = var.autoscaler_subnet_id != null ? var.autoscaler_subnet_id : var.subnet_ids[0]

  # Tags: the module's own win over the caller's.
  fleet_tag_key = "runfleet:fleet"
  tags = merge(var.tags, {
    (local.fleet_tag_key) = var.name
    "runfleet:managed-by" = "terraform"
  })

  # Where binaries come from. The autoscaler binary sits next to the runner binary.
  default_agent_url  = "https://github.com/runfleet/runfleet/releases/download/${var.agent_version}/runner-linux-${local.deb_arch}"
  agent_url          = var.agent_url != null ? var.agent_url : local.default_agent_url
  autoscaler_url     = join("/", concat(slice(split("/", local.agent_url), 0, length(split("/", local.agent_url)) - 1), [replace(element(split("/", local.agent_url), length(split("/", local.agent_url)) - 1), "runner", "autoscaler")]))
  agent_s3_object    = startswith(local.agent_url, "s3://") ? trimprefix(local.agent_url, "s3://") : ""
  autoscaler_s3_path = startswith(local.autoscaler_url, "s3://") ? trimprefix(local.autoscaler_url, "s3://") : ""

  # Secrets by ARN: which service holds each one decides the API and the IAM action.
  node_secret_arns       = compact([var.runner_secret_arn, var.fleet_join_token_arn == null ? "" : var.fleet_join_token_arn])
  autoscaler_secret_arns = compact([var.runner_secret_arn, var.fleet_join_token_arn == null ? "" : var.fleet_join_token_arn, var.platform_api_token_arn == null ? "" : var.platform_api_token_arn])

  # Secrets Manager ARNs end in a random 6-character suffix; the policy allows any suffix so a
  # partial ARN given without it works too.
  node_ssm_arns              = [for a in local.node_secret_arns : a if split(":", a)[2] == "ssm"]
  node_secretsmanager_arns   = [for a in local.node_secret_arns : "${a}*" if split(":", a)[2] == "secretsmanager"]
  scaler_ssm_arns            = [for a in local.autoscaler_secret_arns : a if split(":", a)[2] == "ssm"]
  scaler_secretsmanager_arns = [for a in local.autoscaler_secret_arns : "${a}*" if split(":", a)[2] == "secretsmanager"]

  # Cache bucket: created, given, or none.
  cache_enabled     = var.create_cache_bucket || var.cache_bucket_name != null
  cache_bucket_name = var.create_cache_bucket ? aws_s3_bucket.cache[0].id : (var.cache_bucket_name != null ? var.cache_bucket_name : "")
  cache_bucket_arn  = local.cache_enabled ? "arn:${local.partition}:s3:::${local.cache_bucket_name}" : ""

  node_log_group_name       = "/runfleet/${var.name}/nodes"
  autoscaler_log_group_name = "/runfleet/${var.name}/autoscaler"

  asg_name          = "${var.name}-nodes"
  autoscaler_listen = "0.0.0.0:${var.autoscaler_port}"

  # Values the node user-data template needs; lists are joined here so the template stays
  # plain ${} interpolation and %{ if } blocks (the Go tests render it the same way).
  node_template_vars = {
    platform               = var.platform
    fleet_name             = var.name
    gitlab_url             = var.gitlab_url
    github_url             = var.github_url == null ? "" : var.github_url
    github_app_id          = var.github_app_id == null ? "" : tostring(var.github_app_id)
    github_installation_id = var.github_installation_id == null ? "" : tostring(var.github_installation_id)
    github_runner_group    = var.github_runner_group == null ? "" : var.github_runner_group
    runner_labels          = join(",", var.runner_labels)
    runner_labels_toml     = join(", ", [for l in var.runner_labels : "\"${l}\""])
    runner_secret_arn      = var.runner_secret_arn
    fleet_join_token_arn   = var.fleet_join_token_arn == null ? "" : var.fleet_join_token_arn
    autoscaler_endpoint    = "http://${aws_instance.autoscaler.private_ip}:${var.autoscaler_port}"
    region                 = local.region
    deb_arch               = local.deb_arch
    agent_url              = local.agent_url
    agent_sha256           = var.agent_sha256 == null ? "" : var.agent_sha256
    slots_per_node         = tostring(var.slots_per_node)
    shutdown_timeout       = tostring(var.shutdown_timeout)
    stop_timeout           = tostring(var.shutdown_timeout + 30)
    job_image              = var.job_image
    job_cpus               = var.job_limits.cpus == null ? "" : var.job_limits.cpus
    job_memory             = var.job_limits.memory == null ? "" : var.job_limits.memory
    job_pids_limit         = var.job_limits.pids_limit == null ? "" : tostring(var.job_limits.pids_limit)
    job_shm_size           = var.job_limits.shm_size == null ? "" : var.job_limits.shm_size
    log_group              = local.node_log_group_name
    cache_bucket           = local.cache_bucket_name
  }

  autoscaler_template_vars = {
    platform               = var.platform
    fleet_name             = var.name
    region                 = local.region
    deb_arch               = local.deb_arch
    asg_name               = local.asg_name
    listen_address         = local.autoscaler_listen
    queue_url              = aws_sqs_queue.interruptions.url
    state_volume_id        = aws_ebs_volume.autoscaler_state.id
    autoscaler_url         = local.autoscaler_url
    gitlab_url             = var.gitlab_url
    github_url             = var.github_url == null ? "" : var.github_url
    github_app_id          = var.github_app_id == null ? "" : tostring(var.github_app_id)
    github_installation_id = var.github_installation_id == null ? "" : tostring(var.github_installation_id)
    runner_secret_arn      = var.runner_secret_arn
    platform_api_token_arn = var.platform_api_token_arn == null ? "" : var.platform_api_token_arn
    fleet_join_token_arn   = var.fleet_join_token_arn == null ? "" : var.fleet_join_token_arn
    slots_per_node         = tostring(var.slots_per_node)
    min_nodes              = tostring(var.min_nodes)
    max_nodes              = tostring(var.max_nodes)
    log_group              = local.autoscaler_log_group_name
  }
}
