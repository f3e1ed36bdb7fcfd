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

# The nodes' zones: the autoscaler's offerings are instance type x zone x market.
data "aws_subnet" "nodes" {
  count = length(var.subnet_ids)
  id    = var.subnet_ids[count.index]
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

  # Tag keys: the aws provider's vocabulary (autoscaler/provider/aws TagKeys; the Go tests
  # keep the two equal). Every resource carries the fleet tag, the autoscaler's IAM is scoped
  # by it; node instances also carry managed and pool (the provider lists nodes by
  # managed + fleet, so the autoscaler instance, without managed, is never taken for a node).
  tag_fleet   = "dev.runfleet.fleet"
  tag_managed = "dev.runfleet.managed"
  tag_pool    = "dev.runfleet.pool"
  tag_role    = "dev.runfleet.role"
  tags        = merge(var.tags, { (local.tag_fleet) = var.name })
  node_tags   = merge(local.tags, { (local.tag_managed) = "true", (local.tag_pool) = local.pool_name })
  # Node instances and their volumes (launch templates' tag_specifications).
  node_resource_tags = merge(local.node_tags, { Name = "${var.name}-node", (local.tag_role) = "node" })

  # The autoscaler's one pool: the nodes' Auto Scaling group.
  pool_name = "default"

  # Where binaries come from. The autoscaler binary sits next to the runner binary.
  default_agent_url  = "https://github.com/runfleet/runfleet/releases/download/${var.agent_version}/runner-linux-${local.deb_arch}"
  agent_url          = var.agent_url != null ? var.agent_url : local.default_agent_url
  autoscaler_url     = join("/", concat(slice(split("/", local.agent_url), 0, length(split("/", local.agent_url)) - 1), [replace(element(split("/", local.agent_url), length(split("/", local.agent_url)) - 1), "runner", "autoscaler")]))
  github_host        = var.github_url == null ? "" : split("/", var.github_url)[2]
  github_api_url     = contains(["", "github.com"], local.github_host) ? "" : "https://${local.github_host}/api/v3/"
  agent_s3_object    = startswith(local.agent_url, "s3://") ? trimprefix(local.agent_url, "s3://") : ""
  autoscaler_s3_path = startswith(local.autoscaler_url, "s3://") ? trimprefix(local.autoscaler_url, "s3://") : ""

  # Secrets by ARN: which service holds each one decides the API and the IAM action.
  # GitLab: the runner token is the nodes' and the autoscaler never reads it. GitHub: the App
  # key is the autoscaler's, which mints every node's JIT runners; nodes never read it.
  github_app_key_arn     = var.platform == "github" ? var.runner_secret_arn : ""
  node_secret_arns       = compact([var.platform == "github" ? "" : var.runner_secret_arn, var.fleet_join_token_arn])
  autoscaler_secret_arns = compact([var.fleet_join_token_arn, local.github_app_key_arn, var.platform_api_token_arn == null ? "" : var.platform_api_token_arn, var.github_webhook_secret_arn == null ? "" : var.github_webhook_secret_arn])

  # Secrets Manager ARNs end in a random 6-character suffix; the policy allows any suffix so a
  # partial ARN given without it works too.
  # Nodes also read the fleet API's CA certificate (public, published by the autoscaler).
  node_ssm_arns              = concat([for a in local.node_secret_arns : a if split(":", a)[2] == "ssm"], [aws_ssm_parameter.fleet_ca.arn])
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
  asg_arn           = "arn:${local.partition}:autoscaling:${local.region}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/${local.asg_name}"
  autoscaler_listen = "0.0.0.0:${var.autoscaler_port}"

  # The warm pool's group (warm.tf): on-demand instances of one type.
  warm_pool          = var.warm_pool != null
  warm_asg_name      = "${var.name}-warm"
  warm_asg_arn       = "arn:${local.partition}:autoscaling:${local.region}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/${local.warm_asg_name}"
  warm_pool_state    = local.warm_pool ? var.warm_pool.pool_state : ""
  warm_pool_hook     = "runfleet-node-ready"
  warm_instance_type = local.warm_pool ? coalesce(var.warm_pool.instance_type, var.instance_types[0]) : ""
  warm_max_size      = local.warm_pool ? coalesce(var.warm_pool.max_size, var.max_nodes) : 0
  warm_price         = local.warm_pool ? try(var.instance_prices[local.warm_instance_type].on_demand, 1) : 0

  # What the autoscaler's policy may launch: instance type x zone x market, each with a price
  # (only ratios matter: prices rank offerings and weigh costs). The group decides the actual
  # type and zone; the offerings tell the policy what it may get and at what cost.
  node_zones = distinct([for s in data.aws_subnet.nodes : s.availability_zone])
  markets = concat(
    var.spot_percentage > 0 ? [true] : [],
    var.spot_percentage < 100 || var.on_demand_base_capacity > 0 ? [false] : [],
  )
  offering_types = var.instance_types
  offerings = flatten([
    for t in local.offering_types : [
      for z in local.node_zones : [
        for spot in local.markets : {
          instance_type = t
          zone          = z
          spot          = spot
          price         = spot ? try(var.instance_prices[t].spot, var.instance_prices[t].on_demand * 0.35, 0.35) : try(var.instance_prices[t].on_demand, 1)
        }
      ]
    ]
  ])
  offerings_toml = join("\n", [for o in local.offerings : format("[[pools.offerings]]\ninstance_type = \"%s\"\nzone = \"%s\"\nspot = %t\nprice_per_hour = %.6f\n", o.instance_type, o.zone, o.spot, o.price)])

  # Values the node user-data template needs; lists are joined here so the template stays
  # plain ${} interpolation and %{ if } blocks (the Go tests render it the same way).
  node_template_vars = {
    platform             = var.platform
    fleet_name           = var.name
    gitlab_url           = var.gitlab_url
    github_runner_image  = var.github_runner_image == null ? "" : var.github_runner_image
    runner_labels_toml   = join(", ", [for l in var.runner_labels : "\"${l}\""])
    runner_secret_arn    = var.platform == "github" ? "" : var.runner_secret_arn
    fleet_join_token_arn = var.fleet_join_token_arn
    autoscaler_endpoint  = "https://${aws_instance.autoscaler.private_ip}:${var.autoscaler_port}"
    fleet_ca_arn         = aws_ssm_parameter.fleet_ca.arn
    region               = local.region
    deb_arch             = local.deb_arch
    agent_url            = local.agent_url
    agent_sha256         = var.agent_sha256
    slots_per_node       = tostring(var.slots_per_node)
    shutdown_timeout     = tostring(var.shutdown_timeout)
    stop_timeout         = tostring(var.shutdown_timeout + 30)
    job_image            = var.job_image
    job_cpus             = var.job_limits.cpus == null ? "" : var.job_limits.cpus
    job_memory           = var.job_limits.memory == null ? "" : var.job_limits.memory
    job_pids_limit       = var.job_limits.pids_limit == null ? "" : tostring(var.job_limits.pids_limit)
    job_shm_size         = var.job_limits.shm_size == null ? "" : var.job_limits.shm_size
    log_group            = local.node_log_group_name
    cache_bucket         = local.cache_bucket_name
    asg_name             = local.asg_name
    warm_pool_hook       = ""
  }

  # The warm group's nodes: the same bootstrap, completing their group's launching hook.
  warm_node_template_vars = merge(local.node_template_vars, {
    asg_name       = local.warm_asg_name
    warm_pool_hook = local.warm_pool_hook
  })

  autoscaler_template_vars = {
    platform                  = var.platform
    fleet_name                = var.name
    region                    = local.region
    deb_arch                  = local.deb_arch
    asg_name                  = local.asg_name
    pool_name                 = local.pool_name
    pool_labels_toml          = join(", ", [for l in var.runner_labels : "\"${l}\""])
    listen_address            = local.autoscaler_listen
    autoscaler_port           = tostring(var.autoscaler_port)
    state_volume_id           = aws_ebs_volume.autoscaler_state.id
    autoscaler_url            = local.autoscaler_url
    autoscaler_sha256         = var.autoscaler_sha256
    gitlab_url                = var.gitlab_url
    gitlab_projects_toml      = join(", ", [for p in var.gitlab_projects : "\"${p}\""])
    github_api_url            = local.github_api_url
    github_url                = var.github_url == null ? "" : var.github_url
    github_app_id             = var.github_app_id == null ? "" : tostring(var.github_app_id)
    github_installation_id    = var.github_installation_id == null ? "" : tostring(var.github_installation_id)
    github_runner_group       = var.github_runner_group == null ? "" : var.github_runner_group
    github_app_key_arn        = local.github_app_key_arn
    github_repos_toml         = join(", ", [for r in var.github_repos : "\"${r}\""])
    github_webhook_secret_arn = var.github_webhook_secret_arn == null ? "" : var.github_webhook_secret_arn
    platform_api_token_arn    = var.platform_api_token_arn == null ? "" : var.platform_api_token_arn
    fleet_join_token_arn      = var.fleet_join_token_arn
    slots_per_node            = tostring(var.slots_per_node)
    min_nodes                 = tostring(var.min_nodes)
    max_nodes                 = tostring(var.max_nodes)
    min_idle_slots            = tostring(var.min_idle_slots)
    on_demand_base            = tostring(var.on_demand_base_capacity)
    warm_asg_name             = local.warm_pool ? local.warm_asg_name : ""
    warm_instance_type        = local.warm_instance_type
    warm_zone                 = local.node_zones[0]
    warm_price                = format("%.6f", local.warm_price)
    max_jobs_per_node         = tostring(var.max_jobs_per_node)
    offerings_toml            = local.offerings_toml
    warm_pool_state           = local.warm_pool_state
    warm_pool_min_size        = local.warm_pool ? tostring(var.warm_pool.min_size) : ""
    warm_pool_max_size        = tostring(local.warm_max_size)
    warm_pool_reuse           = local.warm_pool ? tostring(var.warm_pool.reuse_on_scale_in) : ""
    log_group                 = local.autoscaler_log_group_name
    fleet_ca_parameter        = aws_ssm_parameter.fleet_ca.name
    account_id                = local.account_id
    identity_certificate      = trimspace(var.instance_identity_certificate)
  }
}
