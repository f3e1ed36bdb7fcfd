# The control plane: one small on-demand EC2 instance running `autoscaler run`, with its
# SQLite state on an EBS volume that outlives the instance. Replacing the instance (new AMI,
# new user-data) re-attaches the same volume and the autoscaler adopts the running nodes.
# One instance is enough: nodes keep running jobs while it is away; they only stop scaling.
#
# The fleet API serves TLS. The autoscaler makes its own CA at first boot (its key never
# leaves the state volume), a server certificate for its private address at every boot, and
# publishes the CA certificate (public) in this parameter; nodes read it before they join.

resource "aws_ssm_parameter" "fleet_ca" {
  name        = "/runfleet/${var.name}/fleet-ca-certificate"
  description = "runfleet ${var.name}: the CA certificate of the fleet API (written by the autoscaler at boot)"
  type        = "String"
  value       = "pending: written by the autoscaler at boot"
  tags        = local.tags

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_ebs_volume" "autoscaler_state" {
  availability_zone = data.aws_subnet.autoscaler.availability_zone
  size              = var.autoscaler_state_volume_size
  type              = "gp3"
  encrypted         = true
  kms_key_id        = var.ebs_kms_key_arn
  tags              = merge(local.tags, { Name = "${var.name}-autoscaler-state", (local.tag_role) = "autoscaler-state" })
}

resource "aws_instance" "autoscaler" {
  ami                         = local.ami_id
  instance_type               = var.autoscaler_instance_type
  subnet_id                   = local.autoscaler_subnet_id
  vpc_security_group_ids      = [aws_security_group.autoscaler.id]
  iam_instance_profile        = aws_iam_instance_profile.autoscaler.name
  user_data_replace_on_change = true
  user_data                   = templatefile("${path.module}/templates/autoscaler-user-data.sh.tftpl", local.autoscaler_template_vars)

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_size = 20
    volume_type = "gp3"
    encrypted   = true
    kms_key_id  = var.ebs_kms_key_arn
    # volume_tags would also retag the state volume attached below; tag the root here.
    tags = merge(local.tags, { Name = "${var.name}-autoscaler", (local.tag_role) = "autoscaler" })
  }

  tags = merge(local.tags, { Name = "${var.name}-autoscaler", (local.tag_role) = "autoscaler" })

  lifecycle {
    # A newer Debian AMI must not replace the control plane on every plan.
    ignore_changes = [ami]

    precondition {
      condition     = length(var.gitlab_projects) == 0 || (var.platform == "gitlab" && var.platform_api_token_arn != null)
      error_message = "gitlab_projects needs platform = \"gitlab\" and platform_api_token_arn (a token with read_api)."
    }

    precondition {
      condition     = length(var.github_repos) == 0 || (var.platform == "github" && var.platform_api_token_arn != null && var.github_webhook_secret_arn != null)
      error_message = "github_repos needs platform = \"github\", github_webhook_secret_arn and platform_api_token_arn."
    }

    precondition {
      condition     = var.github_webhook_secret_arn == null || var.platform == "github"
      error_message = "github_webhook_secret_arn is for platform = \"github\"."
    }
  }
}

resource "aws_volume_attachment" "autoscaler_state" {
  device_name = "/dev/sdf"
  volume_id   = aws_ebs_volume.autoscaler_state.id
  instance_id = aws_instance.autoscaler.id
  # Let the instance's shutdown unmount the file system before the volume is detached.
  stop_instance_before_detaching = true
}
