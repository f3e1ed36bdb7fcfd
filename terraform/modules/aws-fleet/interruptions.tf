# Spot interruption warnings and rebalance recommendations reach the autoscaler through
# EventBridge -> SQS. EventBridge events carry the instance ID but not its tags, so the rule
# matches the account's region and the autoscaler keeps the events for instances of its own
# group (it knows them) and deletes the rest. Nodes also watch IMDS themselves; the queue
# lets the control plane start a replacement even when a node is too busy to report.

resource "aws_sqs_queue" "interruptions" {
  name                      = "${var.name}-interruptions"
  message_retention_seconds = 3600
  receive_wait_time_seconds = 20
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

resource "aws_cloudwatch_event_rule" "interruptions" {
  name        = "${var.name}-spot-interruptions"
  description = "EC2 Spot Instance Interruption Warning and Instance Rebalance Recommendation for runfleet ${var.name}"
  event_pattern = jsonencode({
    source      = ["aws.ec2"]
    detail-type = ["EC2 Spot Instance Interruption Warning", "EC2 Instance Rebalance Recommendation"]
  })
  tags = local.tags
}

resource "aws_cloudwatch_event_target" "interruptions" {
  rule      = aws_cloudwatch_event_rule.interruptions.name
  target_id = "runfleet-autoscaler"
  arn       = aws_sqs_queue.interruptions.arn
}

data "aws_iam_policy_document" "interruptions_queue" {
  statement {
    sid       = "EventBridgeSendMessage"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.interruptions.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.interruptions.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "interruptions" {
  queue_url = aws_sqs_queue.interruptions.id
  policy    = data.aws_iam_policy_document.interruptions_queue.json
}
