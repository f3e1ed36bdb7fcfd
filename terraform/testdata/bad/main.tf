# A module that breaks every rule the tfcheck tests enforce, one way or more each.
# The tests expect each check to report it; it is never applied.

terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "api_token" {
  default = "glrt-0123456789abcdefghij"
}

variable "max_nodes" {
  type        = number
  description = "Validation that references another variable (not allowed in Terraform 1.5)."
  default     = 3

  validation {
    condition     = var.max_nodes >= var.min_nodes
    error_message = "max_nodes below min_nodes."
  }
}

variable "min_nodes" {
  type        = number
  description = "Fewest nodes."
  default     = 0
}

variable "admin_cidrs" {
  type        = list(string)
  description = "Open by default."
  default     = ["0.0.0.0/0"]
}

locals {
  user_data_vars = {
    platform = "gitlab"
  }
}

resource "random_id" "suffix" {
  byte_length = 4
}

resource "aws_launch_template" "weak" {
  name      = "weak-${var.missing}"
  image_id  = data.aws_ami.gone.id
  user_data = base64encode(templatefile("${path.module}/templates/user-data.sh.tftpl", local.user_data_vars))

  metadata_options {
    http_tokens                 = "optional"
    http_put_response_hop_limit = 2
  }
}

resource "aws_instance" "bare" {
  ami           = aws_instance.nope.ami
  instance_type = local.nothing
  user_data     = templatefile("${path.module}/templates/not_there.tftpl", {})
}

resource "aws_security_group" "open" {
  name = "open"

  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_vpc_security_group_ingress_rule" "v6" {
  security_group_id = aws_security_group.open.id
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

resource "aws_security_group_rule" "by_var" {
  type              = "ingress"
  security_group_id = aws_security_group.open.id
  from_port         = 443
  to_port           = 443
  protocol          = "tcp"
  cidr_blocks       = var.admin_cidrs
}

data "aws_iam_policy_document" "broad" {
  statement {
    actions   = ["ec2:TerminateInstances"]
    resources = ["*"]
  }

  statement {
    actions   = ["s3:*"]
    resources = ["arn:aws:s3:::bucket/*"]
  }
}

resource "aws_iam_role_policy" "inline" {
  role = "node"
  policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "*", Resource = "*" }]
  })
}
