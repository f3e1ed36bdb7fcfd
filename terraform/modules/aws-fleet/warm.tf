# The warm pool (optional): a second Auto Scaling group of the same pool whose instances boot
# ahead and wait stopped (or hibernated, or running) in an Auto Scaling warm pool, so a warm
# start takes seconds. AWS allows warm pools only on groups without a mixed instances policy
# or spot, so this group launches on-demand instances of one type from its own launch
# template (aws_launch_template.nodes["warm"], nodes.tf); cold launches stay on the spot
# group (nodes.tf). The autoscaler grows this group for warm launches and sizes its warm
# pool at run time (PutWarmPool / DeleteWarmPool), so Terraform sets the initial warm pool
# and then ignores it, like desired_capacity.
#
# A launching lifecycle hook holds each instance, on its first boot into the warm pool and
# again when it leaves it, until the node completes it (templates/node-user-data.sh.tftpl:
# runfleet-lifecycle.service). Warming, the node installs everything but does not start the
# agent, so no identity exists before the node is used; the agent registers at the start.

resource "aws_autoscaling_group" "warm" {
  count = local.warm_pool ? 1 : 0

  name                  = local.warm_asg_name
  vpc_zone_identifier   = var.subnet_ids
  min_size              = 0
  max_size              = var.max_nodes
  desired_capacity      = 0
  protect_from_scale_in = true
  health_check_type     = "EC2"
  default_cooldown      = 0
  suspended_processes   = ["AZRebalance"]
  enabled_metrics       = ["GroupDesiredCapacity", "GroupInServiceInstances", "GroupPendingInstances", "GroupTerminatingInstances"]

  launch_template {
    id      = aws_launch_template.nodes["warm"].id
    version = aws_launch_template.nodes["warm"].latest_version
  }

  warm_pool {
    pool_state                  = title(var.warm_pool.pool_state)
    min_size                    = var.warm_pool.min_size
    max_group_prepared_capacity = local.warm_max_size

    instance_reuse_policy {
      reuse_on_scale_in = var.warm_pool.reuse_on_scale_in
    }
  }

  # Abandoned (terminated) when the node never completes it.
  initial_lifecycle_hook {
    name                 = local.warm_pool_hook
    lifecycle_transition = "autoscaling:EC2_INSTANCE_LAUNCHING"
    default_result       = "ABANDON"
    heartbeat_timeout    = 900
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
    ignore_changes = [desired_capacity, warm_pool]

    precondition {
      condition     = local.warm_max_size <= var.max_nodes
      error_message = "warm_pool.max_size must not exceed max_nodes."
    }
  }
}
