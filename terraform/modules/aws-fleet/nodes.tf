# Worker nodes: a launch template and an Auto Scaling group with a mixed instances policy
# (or, with a warm pool, on-demand instances of one type: AWS allows warm pools on no other
# group). The group holds capacity; the autoscaler decides how much (desired capacity) and
# which drained node to retire, so Terraform ignores desired_capacity after creation.

resource "aws_launch_template" "nodes" {
  name_prefix            = "${var.name}-node-"
  description            = "runfleet ${var.name} worker node (${var.platform})"
  image_id               = local.ami_id
  update_default_version = true
  vpc_security_group_ids = [aws_security_group.nodes.id]
  user_data              = base64encode(templatefile("${path.module}/templates/node-user-data.sh.tftpl", local.node_template_vars))
  # Set only for a warm pool's group; a mixed instances policy names the types itself.
  instance_type = local.warm_pool ? local.warm_instance_type : null

  dynamic "hibernation_options" {
    for_each = local.warm_pool_state == "hibernated" ? [1] : []
    content {
      configured = true
    }
  }

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

  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.node_tags, { Name = "${var.name}-node", (local.tag_role) = "node" })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(local.node_tags, { Name = "${var.name}-node", (local.tag_role) = "node" })
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

    precondition {
      condition     = !local.warm_pool || var.spot_percentage == 0
      error_message = "warm_pool needs spot_percentage = 0: AWS allows warm pools only on groups that launch on-demand instances of one type."
    }
  }
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

  dynamic "mixed_instances_policy" {
    for_each = local.warm_pool ? [] : [1]
    content {
      instances_distribution {
        on_demand_allocation_strategy            = "prioritized"
        on_demand_base_capacity                  = var.on_demand_base_capacity
        on_demand_percentage_above_base_capacity = 100 - var.spot_percentage
        spot_allocation_strategy                 = "price-capacity-optimized"
      }

      launch_template {
        launch_template_specification {
          launch_template_id = aws_launch_template.nodes.id
          version            = aws_launch_template.nodes.latest_version
        }

        dynamic "override" {
          for_each = var.instance_types
          content {
            instance_type = override.value
          }
        }
      }
    }
  }

  # With a warm pool: the launch template alone (its instance_type is set).
  dynamic "launch_template" {
    for_each = local.warm_pool ? [1] : []
    content {
      id      = aws_launch_template.nodes.id
      version = aws_launch_template.nodes.latest_version
    }
  }

  dynamic "warm_pool" {
    for_each = local.warm_pool ? [var.warm_pool] : []
    content {
      pool_state                  = title(warm_pool.value.pool_state)
      min_size                    = warm_pool.value.min_size
      max_group_prepared_capacity = coalesce(warm_pool.value.max_size, var.max_nodes)

      instance_reuse_policy {
        reuse_on_scale_in = warm_pool.value.reuse_on_scale_in
      }
    }
  }

  # Holds a launching instance (into the warm pool, or out of it into service) until the
  # node's bootstrap completes the action; abandoned (terminated) when it never does.
  dynamic "initial_lifecycle_hook" {
    for_each = local.warm_pool ? [1] : []
    content {
      name                 = local.warm_pool_hook
      lifecycle_transition = "autoscaling:EC2_INSTANCE_LAUNCHING"
      default_result       = "ABANDON"
      heartbeat_timeout    = 900
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
