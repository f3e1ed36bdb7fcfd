# A GitLab fleet: mostly spot, one on-demand node always up, jobs limited to 2 CPUs / 4 GiB.
#
#   aws ssm put-parameter --type SecureString --name /runfleet/ci/gitlab-runner-token \
#     --value "$GITLAB_RUNNER_TOKEN"   # the glrt-… token from GitLab
#   aws ssm put-parameter --type SecureString --name /runfleet/ci/join-token --value "$(openssl rand -hex 32)"
#   aws ssm put-parameter --type SecureString --name /runfleet/ci/gitlab-api-token \
#     --value "$GITLAB_READ_API_TOKEN"   # read_api, to count pending jobs
#   terraform apply -var 'subnet_ids=["subnet-0123456789abcdef0","subnet-0fedcba9876543210"]' \
#     -var runner_token_arn=arn:aws:ssm:eu-west-1:123456789012:parameter/runfleet/ci/gitlab-runner-token \
#     -var join_token_arn=arn:aws:ssm:eu-west-1:123456789012:parameter/runfleet/ci/join-token \
#     -var api_token_arn=arn:aws:ssm:eu-west-1:123456789012:parameter/runfleet/ci/gitlab-api-token \
#     -var agent_sha256=… -var autoscaler_sha256=…   # from the release's SHA256SUMS

module "fleet" {
  source = "../.."

  name              = "gitlab-ci"
  platform          = "gitlab"
  gitlab_url        = "https://gitlab.com"
  runner_secret_arn = var.runner_token_arn
  subnet_ids        = var.subnet_ids

  fleet_join_token_arn   = var.join_token_arn
  platform_api_token_arn = var.api_token_arn
  gitlab_projects        = ["acme/app"]
  agent_sha256           = var.agent_sha256
  autoscaler_sha256      = var.autoscaler_sha256
  min_idle_slots         = 2

  instance_identity_certificate = var.instance_identity_certificate

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
