# A GitHub Actions fleet for an organization: all spot on Graviton, `runs-on: [self-hosted, linux, arm64]`.
#
#   aws secretsmanager create-secret --name runfleet/gh-app-key --secret-string file://app.private-key.pem
#   terraform apply -var 'subnet_ids=["subnet-0123456789abcdef0","subnet-0fedcba9876543210"]' \
#     -var github_app_key_arn=arn:aws:secretsmanager:eu-west-1:123456789012:secret:runfleet/gh-app-key-AbCdEf \
#     -var github_app_id=123456 -var github_installation_id=7654321 \
#     -var join_token_arn=arn:aws:secretsmanager:eu-west-1:123456789012:secret:runfleet/join-token-AbCdEf \
#     -var webhook_secret_arn=arn:aws:secretsmanager:eu-west-1:123456789012:secret:runfleet/gh-webhook-AbCdEf \
#     -var runner_image=registry.example.com/runfleet/github-runner:2.327.1@sha256:… \
#     -var agent_sha256=… -var autoscaler_sha256=…   # from the release's SHA256SUMS (arm64 binaries)

module "fleet" {
  source = "../.."

  name                   = "gha"
  platform               = "github"
  github_url             = "https://github.com/acme"
  github_app_id          = var.github_app_id
  github_installation_id = var.github_installation_id
  runner_secret_arn      = var.github_app_key_arn
  runner_labels          = ["self-hosted", "linux", "arm64"]
  subnet_ids             = var.subnet_ids

  fleet_join_token_arn      = var.join_token_arn
  github_webhook_secret_arn = var.webhook_secret_arn
  github_runner_image       = var.runner_image
  agent_sha256              = var.agent_sha256
  autoscaler_sha256         = var.autoscaler_sha256

  instance_identity_certificate = var.instance_identity_certificate

  architecture             = "arm64"
  instance_types           = ["m7g.large", "m6g.large", "c7g.large", "c6g.large", "r7g.large", "r6g.large", "m7gd.large", "c6gn.large"]
  autoscaler_instance_type = "t4g.small"
  spot_percentage          = 100
  min_nodes                = 0
  max_nodes                = 30
  slots_per_node           = 2
}
