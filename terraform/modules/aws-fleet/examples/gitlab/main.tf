# A GitLab fleet: mostly spot, one on-demand node always up, jobs limited to 2 CPUs / 4 GiB.
#
#   aws ssm put-parameter --type SecureString --name /runfleet/ci/gitlab-runner-token \
#     --value "$GITLAB_RUNNER_TOKEN"   # the glrt-… token from GitLab
#   terraform apply -var 'subnet_ids=["subnet-0123456789abcdef0","subnet-0fedcba9876543210"]' \
#     -var runner_token_arn=arn:aws:ssm:eu-west-1:123456789012:parameter/runfleet/ci/gitlab-runner-token

module "fleet" {
  source = "../.."

  name              = "gitlab-ci"
  platform          = "gitlab"
  gitlab_url        = "https://gitlab.com"
  runner_secret_arn = var.runner_token_arn
  subnet_ids        = var.subnet_ids

  on_demand_base_capacity = 1
  spot_percentage         = 100
  min_nodes               = 1
  max_nodes               = 20
  slots_per_node          = 2

  job_limits = {
    cpus   = "2"
    memory = "4g"
  }

  create_cache_bucket = true
  log_retention_days  = 30

  tags = {
    cost-center = "ci"
  }
}
