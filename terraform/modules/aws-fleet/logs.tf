# CloudWatch log groups. Nodes and the autoscaler ship their service logs here through the
# CloudWatch agent (see the user-data templates); retention bounds the cost.

resource "aws_cloudwatch_log_group" "nodes" {
  name              = local.node_log_group_name
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "autoscaler" {
  name              = local.autoscaler_log_group_name
  retention_in_days = var.log_retention_days
  tags              = local.tags
}
