variable "region" {
  type        = string
  description = "AWS region of the fleet."
  default     = "eu-west-1"
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets with NAT egress, one per availability zone."
}

variable "runner_token_arn" {
  type        = string
  description = "ARN of the SSM SecureString holding the GitLab runner authentication token (glrt-…)."
}
