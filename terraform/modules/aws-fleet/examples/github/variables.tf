variable "region" {
  type        = string
  description = "AWS region of the fleet."
  default     = "eu-west-1"
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets with NAT egress, one per availability zone."
}

variable "github_app_key_arn" {
  type        = string
  description = "ARN of the Secrets Manager secret holding the GitHub App private key (PEM). Read by the autoscaler only: it mints the nodes' JIT runners."
}

variable "github_app_id" {
  type        = number
  description = "GitHub App ID."
}

variable "github_installation_id" {
  type        = number
  description = "GitHub App installation ID for the organization."
}

variable "join_token_arn" {
  type        = string
  description = "ARN of the Secrets Manager secret holding the fleet join token."
}

variable "webhook_secret_arn" {
  type        = string
  description = "ARN of the Secrets Manager secret holding the workflow_job webhook secret."
}

variable "runner_image" {
  type        = string
  description = "The GitHub runner image (built from images/github-runner), pinned by digest."
}

variable "agent_sha256" {
  type        = string
  description = "SHA-256 of runner-linux-arm64 of the release (SHA256SUMS)."
}

variable "autoscaler_sha256" {
  type        = string
  description = "SHA-256 of autoscaler-linux-arm64 of the release (SHA256SUMS)."
}

variable "instance_identity_certificate" {
  type        = string
  description = "PEM of AWS's RSA certificate for instance identity documents in the fleet's region (EC2 User Guide: Verify the instance identity document)."
}
