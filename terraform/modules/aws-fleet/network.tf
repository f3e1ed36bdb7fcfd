# Security groups. Nodes accept no inbound traffic at all (operators use Session Manager);
# the autoscaler accepts its fleet API port from nodes and from listed private CIDRs only.

resource "aws_security_group" "nodes" {
  name_prefix = "${var.name}-nodes-"
  description = "runfleet ${var.name} worker nodes: egress only"
  vpc_id      = local.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-nodes" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "nodes_all" {
  security_group_id = aws_security_group.nodes.id
  description       = "Platform APIs, registries, package mirrors, AWS APIs"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "nodes_all_ipv6" {
  security_group_id = aws_security_group.nodes.id
  description       = "Platform APIs, registries, package mirrors, AWS APIs (IPv6)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
  tags              = local.tags
}

resource "aws_security_group" "autoscaler" {
  name_prefix = "${var.name}-autoscaler-"
  description = "runfleet ${var.name} autoscaler: fleet API from nodes"
  vpc_id      = local.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-autoscaler" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "autoscaler_from_nodes" {
  security_group_id            = aws_security_group.autoscaler.id
  description                  = "Fleet API: node registration and heartbeats"
  ip_protocol                  = "tcp"
  from_port                    = var.autoscaler_port
  to_port                      = var.autoscaler_port
  referenced_security_group_id = aws_security_group.nodes.id
  tags                         = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "autoscaler_from_cidrs" {
  for_each = toset(var.autoscaler_ingress_cidrs)

  security_group_id = aws_security_group.autoscaler.id
  description       = "Fleet API and metrics from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = var.autoscaler_port
  to_port           = var.autoscaler_port
  cidr_ipv4         = can(cidrnetmask(each.value)) ? each.value : null
  cidr_ipv6         = can(cidrnetmask(each.value)) ? null : each.value
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "autoscaler_all" {
  security_group_id = aws_security_group.autoscaler.id
  description       = "AWS APIs, platform APIs, package mirrors"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  tags              = local.tags
}
