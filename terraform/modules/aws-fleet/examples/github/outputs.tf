output "autoscaling_group_name" {
  description = "The fleet's Auto Scaling group."
  value       = module.fleet.autoscaling_group_name
}

output "autoscaler_endpoint" {
  description = "Fleet API of the autoscaler."
  value       = module.fleet.autoscaler_endpoint
}

output "node_role_arn" {
  description = "IAM role of the nodes."
  value       = module.fleet.node_role_arn
}
