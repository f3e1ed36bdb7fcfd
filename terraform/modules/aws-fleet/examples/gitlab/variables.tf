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

variable "join_token_arn" {
  type        = string
  description = "ARN of the SSM SecureString holding the fleet join token."
}

variable "api_token_arn" {
  type        = string
  description = "ARN of the SSM SecureString holding a GitLab token with read_api (pending jobs of the projects)."
}

variable "agent_sha256" {
  type        = string
  description = "SHA-256 of runner-linux-amd64 of the release (SHA256SUMS)."
}

variable "autoscaler_sha256" {
  type        = string
  description = "SHA-256 of autoscaler-linux-amd64 of the release (SHA256SUMS)."
}

variable "instance_identity_certificate" {
  type        = string
  description = "PEM of AWS's RSA certificate for instance identity documents in the fleet's region (EC2 User Guide: Verify the instance identity document)."
}
