output "autoscaling_group_name" {
  description = "Name of the nodes' Auto Scaling group (the autoscaler's aws provider drives it)."
  value       = aws_autoscaling_group.nodes.name
}

output "autoscaling_group_arn" {
  description = "ARN of the nodes' Auto Scaling group."
  value       = aws_autoscaling_group.nodes.arn
}

output "warm_autoscaling_group_name" {
  description = "Name of the warm pool's on-demand Auto Scaling group; null without warm_pool."
  value       = local.warm_pool ? aws_autoscaling_group.warm[0].name : null
}

output "fleet_ca_parameter_name" {
  description = "SSM parameter holding the fleet API's CA certificate (written by the autoscaler at boot); clients of the fleet API and /metrics trust it."
  value       = aws_ssm_parameter.fleet_ca.name
}

output "launch_template_id" {
  description = "ID of the nodes' launch template."
  value       = aws_launch_template.nodes["cold"].id
}

output "launch_template_latest_version" {
  description = "Latest version of the nodes' launch template; new nodes use it."
  value       = aws_launch_template.nodes["cold"].latest_version
}

output "autoscaler_instance_id" {
  description = "Instance ID of the autoscaler (reach it with Session Manager)."
  value       = aws_instance.autoscaler.id
}

output "autoscaler_endpoint" {
  description = "Fleet API and /metrics endpoint of the autoscaler, reachable from the nodes' security group and autoscaler_ingress_cidrs."
  value       = "https://${aws_instance.autoscaler.private_ip}:${var.autoscaler_port}"
}

output "autoscaler_state_volume_id" {
  description = "EBS volume holding the autoscaler's SQLite state (snapshot it for backups)."
  value       = aws_ebs_volume.autoscaler_state.id
}

output "node_role_arn" {
  description = "ARN of the nodes' IAM role."
  value       = aws_iam_role.node.arn
}

output "autoscaler_role_arn" {
  description = "ARN of the autoscaler's IAM role."
  value       = aws_iam_role.autoscaler.arn
}

output "node_security_group_id" {
  description = "Security group of the nodes (egress only). Reference it to let nodes reach private services."
  value       = aws_security_group.nodes.id
}

output "autoscaler_security_group_id" {
  description = "Security group of the autoscaler."
  value       = aws_security_group.autoscaler.id
}

output "cache_bucket_name" {
  description = "Name of the S3 cache bucket (created or given); null when there is none."
  value       = local.cache_enabled ? local.cache_bucket_name : null
}

output "cache_bucket_arn" {
  description = "ARN of the S3 cache bucket; null when there is none."
  value       = local.cache_enabled ? local.cache_bucket_arn : null
}

output "interruption_queue_url" {
  description = "URL of the SQS queue receiving spot interruption warnings and rebalance recommendations."
  value       = aws_sqs_queue.interruptions.url
}

output "interruption_queue_arn" {
  description = "ARN of the interruption events queue."
  value       = aws_sqs_queue.interruptions.arn
}

output "log_group_names" {
  description = "CloudWatch log groups of the nodes and the autoscaler."
  value = {
    nodes      = aws_cloudwatch_log_group.nodes.name
    autoscaler = aws_cloudwatch_log_group.autoscaler.name
  }
}
