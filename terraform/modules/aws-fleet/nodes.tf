# Worker nodes: a launch template and an Auto Scaling group with a mixed instances policy.
# The group holds capacity; the autoscaler decides how much (desired capacity) and which
# drained node to retire, so Terraform ignores desired_capacity after creation. A warm pool
# lives on a second, on-demand group (warm.tf).

# One launch template per group, the same but for what the keys below set: "cold" for the
# spot group here, "warm" for the warm pool's on-demand group (warm.tf) when there is one.
locals {
  launch_templates = { for k, v in {
    cold = {
      prefix        = "node"
      description   = "worker node"
      instance_type = null # the group's overrides choose
      user_data     = base64encode(templatefile("${path.module}/templates/node-user-data.sh.tftpl", local.node_template_vars))
      hibernate     = false
    }
    warm = {
      prefix        = "warm"
      description   = "warm-pool node"
      instance_type = local.warm_instance_type
      user_data     = base64encode(templatefile("${path.module}/templates/node-user-data.sh.tftpl", local.warm_node_template_vars))
      hibernate     = local.warm_pool_state == "hibernated"
    }
  } : k => v if k == "cold" || local.warm_pool }
}

resource "aws_launch_template" "nodes" {
  for_each = local.launch_templates

  name_prefix            = "${var.name}-${each.value.prefix}-"
  description            = "runfleet ${var.name} ${each.value.description} (${var.platform})"
  image_id               = local.ami_id
  instance_type          = each.value.instance_type
  update_default_version = true
  vpc_security_group_ids = [aws_security_group.nodes.id]
  user_data              = each.value.user_data

  iam_instance_profile {
    arn = aws_iam_instance_profile.node.arn
  }

  # IMDSv2 only, and one hop: a job container sits one hop further (the bridge), so the
  # metadata endpoint and the node's credentials are out of its reach. The agent also
  # rejects job-network traffic to 169.254.169.254 with a DOCKER-USER rule.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  # Hibernation keeps memory on the encrypted root volume, which must hold it.
  dynamic "hibernation_options" {
    for_each = each.value.hibernate ? [1] : []
    content {
      configured = true
    }
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.root_volume_size
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = var.ebs_kms_key_arn
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = false
  }

  dynamic "tag_specifications" {
    for_each = ["instance", "volume"]
    content {
      resource_type = tag_specifications.value
      tags          = local.node_resource_tags
    }
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = var.platform != "github" || (var.github_url != null && var.github_app_id != null && var.github_installation_id != null && var.github_runner_image != null)
      error_message = "platform = \"github\" needs github_url, github_app_id, github_installation_id and github_runner_image."
    }

    precondition {
      condition     = var.allow_unpinned_images || alltrue([for i in compact([var.job_image, var.github_runner_image == null ? "" : var.github_runner_image]) : can(regex("@sha256:[0-9a-f]{64}$", i))])
      error_message = "job_image and github_runner_image must be pinned by digest (name[:tag]@sha256:<64 hex>); set allow_unpinned_images = true to accept tags."
    }
  }
}

# The templates were two resources before; their state moves to the keyed instances.
moved {
  from = aws_launch_template.nodes
  to   = aws_launch_template.nodes["cold"]
}

moved {
  from = aws_launch_template.warm[0]
  to   = aws_launch_template.nodes["warm"]
}

resource "aws_autoscaling_group" "nodes" {
  name                  = local.asg_name
  vpc_zone_identifier   = var.subnet_ids
  min_size              = var.min_nodes
  max_size              = var.max_nodes
  desired_capacity      = var.min_nodes
  capacity_rebalance    = true
  protect_from_scale_in = true
  health_check_type     = "EC2"
  default_cooldown      = 0
  # The autoscaler places nodes; EC2 must not terminate running jobs to even out zones.
  suspended_processes = ["AZRebalance"]
  enabled_metrics     = ["GroupDesiredCapacity", "GroupInServiceInstances", "GroupPendingInstances", "GroupTerminatingInstances"]

  mixed_instances_policy {
    instances_distribution {
      on_demand_allocation_strategy            = "prioritized"
      on_demand_base_capacity                  = var.on_demand_base_capacity
      on_demand_percentage_above_base_capacity = 100 - var.spot_percentage
      spot_allocation_strategy                 = "price-capacity-optimized"
    }

    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.nodes["cold"].id
        version            = aws_launch_template.nodes["cold"].latest_version
      }

      dynamic "override" {
        for_each = var.instance_types
        content {
          instance_type = override.value
        }
      }
    }
  }

  dynamic "tag" {
    for_each = local.node_tags
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    # Owned by the autoscaler at run time.
    ignore_changes = [desired_capacity]

    precondition {
      condition     = var.min_nodes <= var.max_nodes
      error_message = "min_nodes must not exceed max_nodes."
    }

    precondition {
      condition     = var.on_demand_base_capacity <= var.max_nodes
      error_message = "on_demand_base_capacity must not exceed max_nodes."
    }
  }
}
