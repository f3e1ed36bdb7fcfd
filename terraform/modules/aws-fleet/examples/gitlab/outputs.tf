output "autoscaling_group_name" {
  description = "The fleet's Auto Scaling group."
  value       = module.fleet.autoscaling_group_name
}

output "autoscaler_endpoint" {
  description = "Fleet API of the autoscaler."
  value       = module.fleet.autoscaler_endpoint
}

output "cache_bucket_name" {
  description = "S3 bucket for shared caches."
  value       = module.fleet.cache_bucket_name
}
