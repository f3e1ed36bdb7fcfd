# Least-privilege IAM. Nodes read their own secrets and write their own logs (plus the cache
# bucket and the agent object when configured). The autoscaler reads the group and EC2
# offerings (Describe calls cannot be scoped by resource: they are held to this region),
# and changes its own group only: by name in the ARN and by the dev.runfleet.fleet tag.

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    sid     = "EC2AssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.${data.aws_partition.current.dns_suffix}"]
    }
  }
}

# ------------------------------------------------------------------------------- nodes

resource "aws_iam_role" "node" {
  name_prefix        = "${var.name}-node-"
  description        = "runfleet ${var.name} worker nodes"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
  tags               = local.tags
}

resource "aws_iam_instance_profile" "node" {
  name_prefix = "${var.name}-node-"
  role        = aws_iam_role.node.name
  tags        = local.tags
}

data "aws_iam_policy_document" "node" {
  dynamic "statement" {
    for_each = length(local.node_ssm_arns) > 0 ? [1] : []
    content {
      sid       = "ReadSecretParameters"
      actions   = ["ssm:GetParameter"]
      resources = local.node_ssm_arns
    }
  }

  dynamic "statement" {
    for_each = length(local.node_secretsmanager_arns) > 0 ? [1] : []
    content {
      sid       = "ReadSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = local.node_secretsmanager_arns
    }
  }

  dynamic "statement" {
    for_each = var.secrets_kms_key_arn != null ? [1] : []
    content {
      sid       = "DecryptSecretsThroughTheirService"
      actions   = ["kms:Decrypt"]
      resources = [var.secrets_kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ssm.${local.region}.amazonaws.com", "secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.nodes.arn}:*"]
  }

  dynamic "statement" {
    for_each = local.cache_enabled ? [1] : []
    content {
      sid       = "ListCacheBucket"
      actions   = ["s3:ListBucket"]
      resources = [local.cache_bucket_arn]
    }
  }

  dynamic "statement" {
    for_each = local.cache_enabled ? [1] : []
    content {
      sid       = "ReadWriteCacheObjects"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
      resources = ["${local.cache_bucket_arn}/*"]
    }
  }

  # A warm group's node completes its group's launching lifecycle hook once its bootstrap is
  # done (autoscaling:CompleteLifecycleAction takes no instance condition).
  dynamic "statement" {
    for_each = local.warm_pool ? [1] : []
    content {
      sid       = "CompleteWarmGroupLaunchHook"
      actions   = ["autoscaling:CompleteLifecycleAction"]
      resources = [local.warm_asg_arn]

      condition {
        test     = "StringEquals"
        variable = "aws:ResourceTag/${local.tag_fleet}"
        values   = [var.name]
      }
    }
  }

  dynamic "statement" {
    for_each = local.agent_s3_object != "" ? [1] : []
    content {
      sid       = "ReadAgentBinary"
      actions   = ["s3:GetObject"]
      resources = ["arn:${local.partition}:s3:::${local.agent_s3_object}"]
    }
  }
}

resource "aws_iam_role_policy" "node" {
  name   = "runfleet-node"
  role   = aws_iam_role.node.id
  policy = data.aws_iam_policy_document.node.json
}

resource "aws_iam_role_policy_attachment" "node_ssm" {
  count = var.enable_ssm_session_manager ? 1 : 0

  role       = aws_iam_role.node.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

# -------------------------------------------------------------------------- autoscaler

resource "aws_iam_role" "autoscaler" {
  name_prefix        = "${var.name}-autoscaler-"
  description        = "runfleet ${var.name} autoscaler (control plane)"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
  tags               = local.tags
}

resource "aws_iam_instance_profile" "autoscaler" {
  name_prefix = "${var.name}-autoscaler-"
  role        = aws_iam_role.autoscaler.name
  tags        = local.tags
}

data "aws_iam_policy_document" "autoscaler" {
  statement {
    sid = "DescribeInThisRegion"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeScalingActivities",
      "autoscaling:DescribeWarmPool",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeInstanceTypeOfferings",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeInstances",
      "ec2:DescribeSpotPriceHistory",
      "ec2:DescribeSubnets",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }

  statement {
    sid = "ScaleOwnGroupOnly"
    actions = [
      "autoscaling:CompleteLifecycleAction",
      "autoscaling:DeleteWarmPool",
      "autoscaling:PutWarmPool",
      "autoscaling:SetDesiredCapacity",
      "autoscaling:SetInstanceProtection",
      "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]
    resources = local.warm_pool ? [local.asg_arn, local.warm_asg_arn] : [local.asg_arn]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.tag_fleet}"
      values   = [var.name]
    }
  }

  statement {
    sid = "ConsumeInterruptionEvents"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ReceiveMessage",
    ]
    resources = [aws_sqs_queue.interruptions.arn]
  }

  dynamic "statement" {
    for_each = length(local.scaler_ssm_arns) > 0 ? [1] : []
    content {
      sid       = "ReadSecretParameters"
      actions   = ["ssm:GetParameter"]
      resources = local.scaler_ssm_arns
    }
  }

  dynamic "statement" {
    for_each = length(local.scaler_secretsmanager_arns) > 0 ? [1] : []
    content {
      sid       = "ReadSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = local.scaler_secretsmanager_arns
    }
  }

  dynamic "statement" {
    for_each = var.secrets_kms_key_arn != null ? [1] : []
    content {
      sid       = "DecryptSecretsThroughTheirService"
      actions   = ["kms:Decrypt"]
      resources = [var.secrets_kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ssm.${local.region}.amazonaws.com", "secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.autoscaler.arn}:*"]
  }

  statement {
    sid       = "PublishFleetCA"
    actions   = ["ssm:PutParameter"]
    resources = [aws_ssm_parameter.fleet_ca.arn]
  }

  dynamic "statement" {
    for_each = local.autoscaler_s3_path != "" ? [1] : []
    content {
      sid       = "ReadAutoscalerBinary"
      actions   = ["s3:GetObject"]
      resources = ["arn:${local.partition}:s3:::${local.autoscaler_s3_path}"]
    }
  }
}

resource "aws_iam_role_policy" "autoscaler" {
  name   = "runfleet-autoscaler"
  role   = aws_iam_role.autoscaler.id
  policy = data.aws_iam_policy_document.autoscaler.json
}

resource "aws_iam_role_policy_attachment" "autoscaler_ssm" {
  count = var.enable_ssm_session_manager ? 1 : 0

  role       = aws_iam_role.autoscaler.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}
