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
  description = "ARN of the Secrets Manager secret holding the GitHub App private key (PEM)."
}

variable "github_app_id" {
  type        = number
  description = "GitHub App ID."
}

variable "github_installation_id" {
  type        = number
  description = "GitHub App installation ID for the organization."
}
