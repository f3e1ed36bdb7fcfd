terraform {
  # 1.5.7 is the oldest release CI formats and validates with (the last MPL release);
  # `terraform test` with mock_provider needs >= 1.7 (or OpenTofu >= 1.8).
  required_version = ">= 1.5.7, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
    }
  }
}
