# Plan-only tests of the module's logic with a mocked AWS provider (no credentials, no API
# calls). Run with `terraform test` (Terraform >= 1.7) or `tofu test` (OpenTofu >= 1.8) after
# `init -plugin-dir=<mirror holding hashicorp/aws>`; terraform/check.sh does both.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = {
      partition  = "aws"
      dns_suffix = "amazonaws.com"
    }
  }

  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }

  mock_data "aws_subnet" {
    defaults = {
      vpc_id            = "vpc-0123456789abcdef0"
      availability_zone = "eu-west-1a"
    }
  }

  mock_data "aws_ami" {
    defaults = {
      id = "ami-0123456789abcdef0"
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name                 = "test-fleet"
  platform             = "gitlab"
  runner_secret_arn    = "arn:aws:ssm:eu-west-1:123456789012:parameter/runfleet/token"
  fleet_join_token_arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/runfleet/join"
  subnet_ids           = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
  agent_sha256         = "abababababababababababababababababababababababababababababababab"
  autoscaler_sha256    = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
  # A self-signed stand-in for AWS's RSA identity certificate (its key was thrown away).
  instance_identity_certificate = <<-PEM
    -----BEGIN CERTIFICATE-----
    MIIDaTCCAlGgAwIBAgIUVVjW8xEWznGXLgF2YLdzWbOZhfgwDQYJKoZIhvcNAQEL
    BQAwQzEoMCYGA1UEAwwfcnVuZmxlZXQgdGVzdCBpbnN0YW5jZSBpZGVudGl0eTEX
    MBUGA1UECgwOcnVuZmxlZXQgdGVzdHMwIBcNMjYxMjA0MTgyMjMwWhgPMjEyNjEx
    MTAxODIyMzBaMEMxKDAmBgNVBAMMH3J1bmZsZWV0IHRlc3QgaW5zdGFuY2UgaWRl
    bnRpdHkxFzAVBgNVBAoMDnJ1bmZsZWV0IHRlc3RzMIIBIjANBgkqhkiG9w0BAQEF
    AAOCAQ8AMIIBCgKCAQEAqQcmALrDM0IG+jgOnqITxaBfiiQ2j8l6Wb/k3aldoCq6
    7BaYgunjlkqNCzaLmpM3KlKcW1ddthl6FioLd44JpVmh2uEoMuAwmueGOXUTz916
    lezTiNOvuWJD3f3QD5fxHOtHnioOcX8JLWie6D3Xs0ccvoNFIvbD6PO7fu9lsElQ
    KRk5gdT5PXHfGJtvjr7uKQspUTkdrb5fFKBWpk75NUbIlKAktTRwh75LN50wRtxU
    pKVaSWQdlTXRXNadJaf2QT1uMABLLq8YamMQe6N/ncfvDbFJT6zMUu+wg0BgzxJu
    jgts2mbVspGqS0usSH0P0VpPOAlO4SpT6Psernf0hwIDAQABo1MwUTAdBgNVHQ4E
    FgQUAgjQNVfYIqQnVPfZGjuWbnuOzScwHwYDVR0jBBgwFoAUAgjQNVfYIqQnVPfZ
    GjuWbnuOzScwDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEATts6
    USz3LC7BRvTcZzyAwau6GXoSZw4MyfuUHYjuRarZJymFl2FcwAopbLytqaqsy8KT
    rgZlchL7Hf1e1A1ZJMuVt37FsWZ+WVby0gwQ738mBBk9zzvoN1NZR98mqSQxPaKQ
    lRYOuz/ctKoe0keloom0UCgiIkRuiPalqJ7iGJY+0RFI7yRXYDO9dEKi5Tb77jF/
    ZNXdEUHRzltzF9uXCx4TDCaqtIUreTl8/VapQ+Ym768R2OlMvHCy5+XGBReY4toI
    DVo5Ossq4sZ0iJUrW+4Ie892ojuaZymb0pdU46H8W7t7/hTTqjKubYJEpOugCBix
    ASAtUZiTQpehDKshOQ==
    -----END CERTIFICATE-----
  PEM
}

run "spot_share_and_bounds" {
  command = plan

  variables {
    on_demand_base_capacity = 2
    spot_percentage         = 70
    min_nodes               = 1
    max_nodes               = 12
  }

  assert {
    condition     = aws_autoscaling_group.nodes.mixed_instances_policy[0].instances_distribution[0].on_demand_percentage_above_base_capacity == 30
    error_message = "70 % spot must leave 30 % on-demand above the base"
  }

  assert {
    condition     = aws_autoscaling_group.nodes.mixed_instances_policy[0].instances_distribution[0].on_demand_base_capacity == 2
    error_message = "on-demand base capacity not passed through"
  }

  assert {
    condition     = aws_autoscaling_group.nodes.mixed_instances_policy[0].instances_distribution[0].spot_allocation_strategy == "price-capacity-optimized"
    error_message = "spot must use price-capacity-optimized"
  }

  assert {
    condition     = aws_autoscaling_group.nodes.min_size == 1 && aws_autoscaling_group.nodes.max_size == 12 && aws_autoscaling_group.nodes.desired_capacity == 1
    error_message = "min/max/desired not as given"
  }

  assert {
    condition     = aws_autoscaling_group.nodes.capacity_rebalance && aws_autoscaling_group.nodes.protect_from_scale_in
    error_message = "capacity rebalance and scale-in protection must be on"
  }

  assert {
    condition     = contains(aws_autoscaling_group.nodes.suspended_processes, "AZRebalance")
    error_message = "AZRebalance must be suspended"
  }

  assert {
    condition     = length(aws_autoscaling_group.nodes.mixed_instances_policy[0].launch_template[0].override) == 10
    error_message = "every default instance type must be an override"
  }
}

run "all_spot_by_default" {
  command = plan

  assert {
    condition     = aws_autoscaling_group.nodes.mixed_instances_policy[0].instances_distribution[0].on_demand_percentage_above_base_capacity == 0
    error_message = "default must be all spot above the base"
  }

  assert {
    condition     = aws_launch_template.nodes["cold"].metadata_options[0].http_tokens == "required" && aws_launch_template.nodes["cold"].metadata_options[0].http_put_response_hop_limit == 1
    error_message = "IMDSv2 with hop limit 1 is required"
  }

  assert {
    condition     = aws_launch_template.nodes["cold"].block_device_mappings[0].ebs[0].encrypted == "true"
    error_message = "root volume must be encrypted"
  }

  assert {
    condition     = length(aws_s3_bucket.cache) == 0 && output.cache_bucket_name == null
    error_message = "no cache bucket unless asked for"
  }
}

run "tags_reach_every_node" {
  command = plan

  variables {
    tags = {
      team = "platform"
    }
  }

  assert {
    condition = alltrue([
      for t in aws_autoscaling_group.nodes.tag : t.propagate_at_launch
    ])
    error_message = "every group tag must propagate to instances"
  }

  assert {
    condition = toset([for t in aws_autoscaling_group.nodes.tag : "${t.key}=${t.value}"]) == toset([
      "team=platform", "dev.runfleet.fleet=test-fleet", "dev.runfleet.managed=true", "dev.runfleet.pool=default",
    ])
    error_message = "group tags must be the caller's tags plus the dev.runfleet.* node tags the aws provider lists by"
  }

  assert {
    condition     = aws_launch_template.nodes["cold"].tag_specifications[0].tags["dev.runfleet.fleet"] == "test-fleet"
    error_message = "instances must carry the fleet tag the autoscaler's IAM policy checks"
  }

  assert {
    condition     = aws_cloudwatch_log_group.nodes.retention_in_days == 30
    error_message = "log retention default is 30 days"
  }
}

run "cache_bucket_created" {
  command = plan

  variables {
    create_cache_bucket   = true
    cache_expiration_days = 7
  }

  assert {
    condition     = length(aws_s3_bucket.cache) == 1 && length(aws_s3_bucket_public_access_block.cache) == 1
    error_message = "a created cache bucket must have a public access block"
  }

  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.cache[0].rule[0].expiration[0].days == 7
    error_message = "cache objects must expire after cache_expiration_days"
  }
}

run "github_needs_app_settings" {
  command = plan

  variables {
    platform = "github"
  }

  expect_failures = [aws_launch_template.nodes]
}

run "min_above_max_is_refused" {
  command = plan

  variables {
    min_nodes = 5
    max_nodes = 2
  }

  expect_failures = [aws_autoscaling_group.nodes]
}

run "spot_share_validated" {
  command = plan

  variables {
    spot_percentage = 150
  }

  expect_failures = [var.spot_percentage]
}

run "open_ingress_refused" {
  command = plan

  variables {
    autoscaler_ingress_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.autoscaler_ingress_cidrs]
}

run "plain_secret_refused" {
  command = plan

  variables {
    runner_secret_arn = "glrt-not-an-arn"
  }

  expect_failures = [var.runner_secret_arn]
}

run "warm_pool_on_its_own_on_demand_group" {
  command = plan

  variables {
    warm_pool = {
      min_size          = 2
      pool_state        = "hibernated"
      reuse_on_scale_in = true
    }
  }

  assert {
    condition     = length(aws_autoscaling_group.warm) == 1 && length(aws_autoscaling_group.warm[0].mixed_instances_policy) == 0
    error_message = "a warm pool's group has no mixed instances policy (AWS refuses one)"
  }

  assert {
    condition = (aws_autoscaling_group.warm[0].warm_pool[0].pool_state == "Hibernated" &&
      aws_autoscaling_group.warm[0].warm_pool[0].min_size == 2 &&
      aws_autoscaling_group.warm[0].warm_pool[0].max_group_prepared_capacity == 10 &&
    aws_autoscaling_group.warm[0].warm_pool[0].instance_reuse_policy[0].reuse_on_scale_in)
    error_message = "warm pool settings must reach the warm group"
  }

  assert {
    condition     = aws_launch_template.nodes["warm"].hibernation_options[0].configured && aws_launch_template.nodes["warm"].instance_type == "m7i.large"
    error_message = "a hibernated warm pool needs hibernation in its launch template and one instance type"
  }

  assert {
    condition     = length(aws_autoscaling_group.nodes.mixed_instances_policy) == 1
    error_message = "cold launches stay on the spot group"
  }
}

run "no_warm_group_without_a_warm_pool" {
  command = plan

  assert {
    condition     = length(aws_autoscaling_group.warm) == 0 && !contains(keys(aws_launch_template.nodes), "warm")
    error_message = "no warm pool, no warm group"
  }
}

run "tag_only_image_refused" {
  command = plan

  variables {
    job_image = "debian:bookworm-slim"
  }

  expect_failures = [aws_launch_template.nodes]
}
