# Inputs of the aws-fleet module. Secrets are never inputs: the module takes the ARN of an
# SSM SecureString parameter or a Secrets Manager secret, and nodes read the value at boot.
# Validation conditions only reference their own variable (Terraform 1.5 rule); rules that
# span variables are preconditions on the resources they guard (see nodes.tf).

# ---------------------------------------------------------------------------- identity

variable "name" {
  type        = string
  description = "Name of the fleet. Prefixes every resource and is the value of the `dev.runfleet.fleet` tag every resource carries and the autoscaler's IAM policy is scoped by."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name))
    error_message = "name must be 3-24 characters of lower-case letters, digits and '-', starting with a letter."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource (merged under the module's own `dev.runfleet.*` tags, which win)."
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.tags) : !startswith(lower(k), "aws:") && !startswith(lower(k), "dev.runfleet.")])
    error_message = "tags must not use the reserved prefixes 'aws:' and 'dev.runfleet.'."
  }
}

# ---------------------------------------------------------------------------- platform

variable "platform" {
  type        = string
  description = "CI platform the nodes take jobs from: `gitlab` or `github`."

  validation {
    condition     = contains(["gitlab", "github"], var.platform)
    error_message = "platform must be \"gitlab\" or \"github\"."
  }
}

variable "runner_secret_arn" {
  type        = string
  description = "ARN of the SSM Parameter Store SecureString or Secrets Manager secret holding the platform credential: the GitLab runner authentication token (`glrt-…`) for platform = gitlab, read by nodes at boot; the GitHub App private key (PEM) for platform = github, read by the autoscaler only, which mints each node's JIT runners (nodes hold no GitHub credential). Never put in user-data."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:(ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+|secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)$", var.runner_secret_arn))
    error_message = "runner_secret_arn must be the ARN of an SSM parameter (arn:aws:ssm:…:parameter/…) or a Secrets Manager secret (arn:aws:secretsmanager:…:secret:…)."
  }
}

variable "secrets_kms_key_arn" {
  type        = string
  description = "ARN of the customer-managed KMS key that encrypts the secrets, if any. Nodes and the autoscaler get kms:Decrypt on it through SSM / Secrets Manager only. Null when the AWS-managed keys are used."
  default     = null

  validation {
    condition     = var.secrets_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.secrets_kms_key_arn))
    error_message = "secrets_kms_key_arn must be a KMS key ARN (arn:aws:kms:…:key/…) or null."
  }
}

variable "gitlab_url" {
  type        = string
  description = "GitLab instance URL (platform = gitlab)."
  default     = "https://gitlab.com"

  validation {
    condition     = can(regex("^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?$", var.gitlab_url))
    error_message = "gitlab_url must be an https:// URL."
  }
}

variable "github_url" {
  type        = string
  description = "GitHub organization or repository URL the runners register with (platform = github), e.g. `https://github.com/acme` or a GitHub Enterprise Server URL."
  default     = null

  validation {
    condition     = var.github_url == null || can(regex("^https://[A-Za-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)?$", var.github_url))
    error_message = "github_url must look like https://github.com/ORG or https://github.com/ORG/REPO."
  }
}

variable "github_app_id" {
  type        = number
  description = "GitHub App ID (platform = github). Not a secret; the App's private key is read from runner_secret_arn by the autoscaler."
  default     = null

  validation {
    condition     = var.github_app_id == null || try(var.github_app_id > 0 && floor(var.github_app_id) == var.github_app_id, false)
    error_message = "github_app_id must be a positive integer."
  }
}

variable "github_installation_id" {
  type        = number
  description = "GitHub App installation ID (platform = github)."
  default     = null

  validation {
    condition     = var.github_installation_id == null || try(var.github_installation_id > 0 && floor(var.github_installation_id) == var.github_installation_id, false)
    error_message = "github_installation_id must be a positive integer."
  }
}

variable "github_runner_group" {
  type        = string
  description = "GitHub runner group the JIT runners join (platform = github). Null for the default group."
  default     = null

  validation {
    condition     = var.github_runner_group == null || can(regex("^[A-Za-z0-9 ._-]{1,64}$", var.github_runner_group))
    error_message = "github_runner_group must be 1-64 letters, digits, spaces, '.', '_' or '-'."
  }
}

variable "runner_labels" {
  type        = list(string)
  description = "Labels of the runners: GitHub `runs-on` labels (platform = github); informational tag_list for GitLab (GitLab keeps a glrt- runner's tags on the server)."
  default     = ["self-hosted", "linux"]

  validation {
    condition     = length(var.runner_labels) > 0 && alltrue([for l in var.runner_labels : can(regex("^[A-Za-z0-9._-]{1,64}$", l))])
    error_message = "runner_labels must be a non-empty list of labels made of letters, digits, '.', '_' and '-'."
  }
}

# ---------------------------------------------------------------------------- network

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (one per availability zone, all in one VPC) the nodes launch in. More zones give spot more pools. Nodes need egress to the platform, the package mirror and AWS APIs (NAT or VPC endpoints)."

  validation {
    condition     = length(var.subnet_ids) > 0 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "subnet_ids must be a non-empty list of subnet IDs (subnet-…)."
  }
}

# ---------------------------------------------------------------------------- capacity

variable "instance_types" {
  type        = list(string)
  description = "Instance types the group may launch, in priority order for on-demand. Spread wide (several families and generations of one size and architecture) so price-capacity-optimized spot has many pools."
  default     = ["m7i.large", "m6i.large", "m6a.large", "m5.large", "m5a.large", "c7i.large", "c6i.large", "c6a.large", "c5.large", "r6i.large"]

  validation {
    condition     = length(var.instance_types) > 0 && length(var.instance_types) <= 40 && length(distinct(var.instance_types)) == length(var.instance_types) && alltrue([for t in var.instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])
    error_message = "instance_types must be 1-40 distinct instance type names such as m6i.large."
  }
}

variable "architecture" {
  type        = string
  description = "CPU architecture of instance_types and of the default AMI and agent binary: `x86_64` or `arm64`."
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "ami_id" {
  type        = string
  description = "AMI of the nodes and the autoscaler. Null picks the newest official Debian 12 AMI for the architecture. A pre-baked image (engine, agent, job images pulled) boots to a ready node in seconds; see the README."
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must be an AMI ID (ami-…) or null."
  }
}

variable "on_demand_base_capacity" {
  type        = number
  description = "Nodes that are always on-demand before any spot share applies."
  default     = 0

  validation {
    condition     = var.on_demand_base_capacity >= 0 && floor(var.on_demand_base_capacity) == var.on_demand_base_capacity
    error_message = "on_demand_base_capacity must be a whole number >= 0."
  }
}

variable "spot_percentage" {
  type        = number
  description = "Share of nodes above on_demand_base_capacity that are spot, in percent (0-100). 100 = all spot above the base."
  default     = 100

  validation {
    condition     = var.spot_percentage >= 0 && var.spot_percentage <= 100 && floor(var.spot_percentage) == var.spot_percentage
    error_message = "spot_percentage must be a whole number between 0 and 100."
  }
}

variable "min_nodes" {
  type        = number
  description = "Fewest nodes in the group. The autoscaler never goes below it."
  default     = 0

  validation {
    condition     = var.min_nodes >= 0 && floor(var.min_nodes) == var.min_nodes
    error_message = "min_nodes must be a whole number >= 0."
  }
}

variable "max_nodes" {
  type        = number
  description = "Most nodes in the group (must be >= min_nodes). Caps the bill."
  default     = 10

  validation {
    condition     = var.max_nodes >= 1 && var.max_nodes <= 1000 && floor(var.max_nodes) == var.max_nodes
    error_message = "max_nodes must be a whole number between 1 and 1000."
  }
}

variable "slots_per_node" {
  type        = number
  description = "Jobs a node runs at once (the agent's `concurrent`). Size instance_types and job_limits to fit."
  default     = 2

  validation {
    condition     = var.slots_per_node >= 1 && var.slots_per_node <= 64 && floor(var.slots_per_node) == var.slots_per_node
    error_message = "slots_per_node must be a whole number between 1 and 64."
  }
}

variable "job_limits" {
  type = object({
    cpus       = optional(string)
    memory     = optional(string)
    pids_limit = optional(number)
    shm_size   = optional(string)
  })
  description = "Per-job container limits written to `[runners.docker]`: cpus (e.g. \"1.5\"), memory and shm_size (e.g. \"2g\", \"256m\"), pids_limit. Null fields mean unlimited / engine default."
  default     = {}

  validation {
    condition = alltrue([
      var.job_limits.cpus == null || can(regex("^[0-9]+(\\.[0-9]+)?$", var.job_limits.cpus)),
      var.job_limits.memory == null || can(regex("^[0-9]+[kmgKMG]?$", var.job_limits.memory)),
      var.job_limits.shm_size == null || can(regex("^[0-9]+[kmgKMG]?$", var.job_limits.shm_size)),
      var.job_limits.pids_limit == null || try(var.job_limits.pids_limit > 0, false),
    ])
    error_message = "job_limits: cpus is a decimal such as \"1.5\"; memory and shm_size are sizes such as \"2g\" or \"256m\"; pids_limit is > 0."
  }
}

variable "job_image" {
  type        = string
  description = "Image for jobs that name none (`[runners.docker] image`), pinned by digest (`name[:tag]@sha256:…`; a tag-only reference needs allow_unpinned_images = true). The default is Debian 12 slim, the digest images/job-base is built from."
  default     = "debian:bookworm-slim@sha256:63a496b5d3b99214b39f5ed70eb71a61e590a77979c79cbee4faf991f8c0783e"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9./:@_-]*$", var.job_image))
    error_message = "job_image must be an image reference (letters, digits and . / : @ _ -)."
  }
}

variable "shutdown_timeout" {
  type        = number
  description = "Seconds running jobs get after the agent is stopped (SIGTERM) before they are aborted as runner_system_failure. Spot gives 120 s of notice."
  default     = 90

  validation {
    condition     = var.shutdown_timeout >= 0 && var.shutdown_timeout <= 3600 && floor(var.shutdown_timeout) == var.shutdown_timeout
    error_message = "shutdown_timeout must be a whole number of seconds between 0 and 3600."
  }
}

variable "root_volume_size" {
  type        = number
  description = "Root volume of a node in GiB (images, builds and local caches live there)."
  default     = 100

  validation {
    condition     = var.root_volume_size >= 20 && var.root_volume_size <= 16384
    error_message = "root_volume_size must be between 20 and 16384 GiB."
  }
}

variable "ebs_kms_key_arn" {
  type        = string
  description = "KMS key ARN encrypting the root and state volumes. Null uses the account's default EBS key (volumes are encrypted either way)."
  default     = null

  validation {
    condition     = var.ebs_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.ebs_kms_key_arn))
    error_message = "ebs_kms_key_arn must be a KMS key ARN or null."
  }
}

# ---------------------------------------------------------------------------- agent

variable "agent_version" {
  type        = string
  description = "runfleet release installed on nodes and the autoscaler (a tag such as v0.4.1). Used to build the default download URL."
  default     = "v0.1.0"

  validation {
    condition     = can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?$", var.agent_version))
    error_message = "agent_version must be a release tag such as v1.2.3."
  }
}

variable "agent_url" {
  type        = string
  description = "Where nodes fetch the runner binary: an https:// URL or an s3://bucket/key object (nodes get s3:GetObject on exactly that object). Null downloads the agent_version release from GitHub. The autoscaler binary is fetched from the same place with `runner` replaced by `autoscaler` in the last path element."
  default     = null

  validation {
    condition     = var.agent_url == null || can(regex("^(https://|s3://)[A-Za-z0-9._~:/?&=%+-]+/runner[A-Za-z0-9._-]*$", var.agent_url))
    error_message = "agent_url must be an https:// URL or s3://bucket/key whose last path element starts with 'runner'."
  }
}

variable "agent_sha256" {
  type        = string
  description = "SHA-256 of the runner binary at agent_url (the release's SHA256SUMS). Required: the node's bootstrap checks the download with `sha256sum -c` and fails when it does not match."

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.agent_sha256))
    error_message = "agent_sha256 must be 64 lower-case hex digits."
  }
}

variable "autoscaler_sha256" {
  type        = string
  description = "SHA-256 of the autoscaler binary (fetched from beside agent_url). Required: the control plane's bootstrap checks the download with `sha256sum -c` and fails when it does not match."

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.autoscaler_sha256))
    error_message = "autoscaler_sha256 must be 64 lower-case hex digits."
  }
}

variable "allow_unpinned_images" {
  type        = bool
  description = "Accept job_image and github_runner_image references without an @sha256: digest. A tag can be moved to other content by whoever controls the registry; leave false outside development."
  default     = false
}

# ---------------------------------------------------------------------------- cache

variable "create_cache_bucket" {
  type        = bool
  description = "Create an S3 bucket for shared job caches (encrypted, public access blocked, objects expire). False with cache_bucket_name set uses an existing bucket; false without it means node-local caches only."
  default     = false
}

variable "cache_bucket_name" {
  type        = string
  description = "Name of the cache bucket: of the one created (null = derived from name) or of an existing one (create_cache_bucket = false)."
  default     = null

  validation {
    condition     = var.cache_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.cache_bucket_name))
    error_message = "cache_bucket_name must be a valid S3 bucket name or null."
  }
}

variable "cache_expiration_days" {
  type        = number
  description = "Days after which cache objects in a created bucket expire."
  default     = 14

  validation {
    condition     = var.cache_expiration_days >= 1 && var.cache_expiration_days <= 365 && floor(var.cache_expiration_days) == var.cache_expiration_days
    error_message = "cache_expiration_days must be a whole number between 1 and 365."
  }
}

# ---------------------------------------------------------------------------- logs

variable "log_retention_days" {
  type        = number
  description = "Retention of the CloudWatch log groups, in days (one of the values CloudWatch accepts)."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, …, 3653)."
  }
}

# ---------------------------------------------------------------------------- autoscaler

variable "autoscaler_instance_type" {
  type        = string
  description = "Instance type of the autoscaler (always on-demand: it holds the fleet's state). Must match architecture."
  default     = "t3.small"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.autoscaler_instance_type))
    error_message = "autoscaler_instance_type must be an instance type name such as t3.small."
  }
}

variable "autoscaler_subnet_id" {
  type        = string
  description = "Subnet of the autoscaler instance and its state volume. Null uses the first of subnet_ids."
  default     = null

  validation {
    condition     = var.autoscaler_subnet_id == null || can(regex("^subnet-[0-9a-f]{8,17}$", var.autoscaler_subnet_id))
    error_message = "autoscaler_subnet_id must be a subnet ID or null."
  }
}

variable "autoscaler_state_volume_size" {
  type        = number
  description = "Size in GiB of the EBS volume holding the autoscaler's SQLite state. It outlives the instance: replacing the instance keeps the fleet's state."
  default     = 10

  validation {
    condition     = var.autoscaler_state_volume_size >= 1 && var.autoscaler_state_volume_size <= 1024
    error_message = "autoscaler_state_volume_size must be between 1 and 1024 GiB."
  }
}

variable "autoscaler_port" {
  type        = number
  description = "TCP port of the autoscaler's fleet API (node agents register and heartbeat there) and /metrics."
  default     = 8080

  validation {
    condition     = var.autoscaler_port >= 1024 && var.autoscaler_port <= 65535
    error_message = "autoscaler_port must be between 1024 and 65535."
  }
}

variable "autoscaler_ingress_cidrs" {
  type        = list(string)
  description = "Extra CIDRs allowed to reach the autoscaler port (e.g. a monitoring network or a webhook proxy). Nodes are always allowed. Never 0.0.0.0/0: put a load balancer or proxy in front for public webhooks."
  default     = []

  validation {
    condition     = alltrue([for c in var.autoscaler_ingress_cidrs : can(cidrnetmask(c)) || can(cidrhost(c, 0))]) && !anytrue([for c in var.autoscaler_ingress_cidrs : contains(["0.0.0.0/0", "::/0"], c)])
    error_message = "autoscaler_ingress_cidrs must be CIDR blocks and must not contain 0.0.0.0/0 or ::/0."
  }
}

variable "platform_api_token_arn" {
  type        = string
  description = "ARN (SSM SecureString or Secrets Manager) of the token the autoscaler reads demand with: a GitLab access token with read_api for the pending jobs of gitlab_projects (platform = gitlab), or a GitHub token with actions:read on github_repos for the periodic reconcile (platform = github). Null: no API demand; the autoscaler scales on busy slots, webhooks and its idle buffer."
  default     = null

  validation {
    condition     = var.platform_api_token_arn == null || can(regex("^arn:aws[a-z-]*:(ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+|secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)$", var.platform_api_token_arn))
    error_message = "platform_api_token_arn must be an SSM parameter or Secrets Manager secret ARN, or null."
  }
}

variable "fleet_join_token_arn" {
  type        = string
  description = "ARN (SSM SecureString or Secrets Manager) of the fleet join token nodes present to the autoscaler's fleet API (a long random string). Read by nodes and the autoscaler at boot into 0600 files; never in user-data or the agent's environment."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:(ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+|secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)$", var.fleet_join_token_arn))
    error_message = "fleet_join_token_arn must be an SSM parameter or Secrets Manager secret ARN."
  }
}

variable "enable_ssm_session_manager" {
  type        = bool
  description = "Attach AmazonSSMManagedInstanceCore to nodes and the autoscaler so operators reach them through Session Manager (the security groups have no ingress for SSH). Off by default: that managed policy allows ssm:GetParameter(s) on every parameter, which undoes the scoped secret policy (any parameter of the account becomes readable from a node)."
  default     = false
}

# ---------------------------------------------------------------------------- demand

variable "gitlab_projects" {
  type        = list(string)
  description = "GitLab projects (IDs or full paths) whose pending jobs the autoscaler counts as demand (platform = gitlab; needs platform_api_token_arn). Empty: it scales on busy slots and min_idle_slots only."
  default     = []

  validation {
    condition     = alltrue([for p in var.gitlab_projects : can(regex("^[A-Za-z0-9._/-]+$", p))])
    error_message = "gitlab_projects must be project IDs or paths (letters, digits, '.', '_', '/', '-')."
  }
}

variable "github_webhook_secret_arn" {
  type        = string
  description = "ARN (SSM SecureString or Secrets Manager) of the secret of a `workflow_job` webhook (platform = github). Set, the autoscaler serves the webhook at /github/webhook on its port (reach it through a proxy listed in autoscaler_ingress_cidrs). Null: no webhook."
  default     = null

  validation {
    condition     = var.github_webhook_secret_arn == null || can(regex("^arn:aws[a-z-]*:(ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+|secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)$", var.github_webhook_secret_arn))
    error_message = "github_webhook_secret_arn must be an SSM parameter or Secrets Manager secret ARN, or null."
  }
}

variable "github_repos" {
  type        = list(string)
  description = "Repositories (`owner/name`) whose queued workflow jobs the autoscaler reconciles through the REST API with platform_api_token_arn, repairing lost webhook deliveries (platform = github; needs github_webhook_secret_arn and platform_api_token_arn)."
  default     = []

  validation {
    condition     = alltrue([for r in var.github_repos : can(regex("^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$", r))])
    error_message = "github_repos must be owner/name pairs."
  }
}

variable "min_idle_slots" {
  type        = number
  description = "Free job slots the autoscaler keeps ready beyond the demand it sees (an idle buffer for jobs that arrive before any signal)."
  default     = 0

  validation {
    condition     = var.min_idle_slots >= 0 && floor(var.min_idle_slots) == var.min_idle_slots
    error_message = "min_idle_slots must be a whole number >= 0."
  }
}

variable "instance_prices" {
  type = map(object({
    on_demand = number
    spot      = optional(number)
  }))
  description = "Hourly prices by instance type. They only rank offerings and weigh costs in the autoscaler's policy, so any currency works. A missing type costs 1 on-demand; a missing spot price is 0.35 of on-demand."
  default     = {}

  validation {
    condition     = alltrue([for p in values(var.instance_prices) : p.on_demand > 0 && (p.spot == null || try(p.spot > 0, false))])
    error_message = "instance_prices must be positive."
  }
}

# ---------------------------------------------------------------------------- warm pool

variable "warm_pool" {
  type = object({
    min_size          = optional(number, 0)
    max_size          = optional(number)
    pool_state        = optional(string, "stopped")
    reuse_on_scale_in = optional(bool, false)
    instance_type     = optional(string)
  })
  description = "An Auto Scaling warm pool of pre-booted nodes that start in seconds, on a second group of the pool (AWS allows warm pools only on groups without spot or mixed instance types): on-demand instances of instance_type (null: the first of instance_types), min_size instances kept warm at first (the autoscaler sizes the pool at run time), max_size the most prepared (warm + running; null = max_nodes), pool_state `stopped` (pay for disks only), `hibernated` (memory kept on the encrypted root volume, which must hold it) or `running`, reuse_on_scale_in returns drained nodes to the pool. Null: no warm pool."
  default     = null

  validation {
    condition = var.warm_pool == null || try(
      contains(["stopped", "hibernated", "running"], var.warm_pool.pool_state) &&
      var.warm_pool.min_size >= 0 && floor(var.warm_pool.min_size) == var.warm_pool.min_size &&
      (var.warm_pool.max_size == null || try(var.warm_pool.max_size >= var.warm_pool.min_size, false)) &&
      (var.warm_pool.instance_type == null || can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.warm_pool.instance_type))),
    false)
    error_message = "warm_pool: pool_state is stopped, hibernated or running; min_size is a whole number >= 0; max_size (when set) >= min_size; instance_type an instance type name."
  }
}

variable "github_runner_image" {
  type        = string
  description = "Image of the GitHub Actions runner the nodes start per job (build it from images/github-runner and push it to a registry the nodes reach), pinned by digest (`name[:tag]@sha256:…`; a tag-only reference needs allow_unpinned_images = true). Required for platform = github."
  default     = null

  validation {
    condition     = var.github_runner_image == null || can(regex("^[A-Za-z0-9][A-Za-z0-9./:@_-]*$", var.github_runner_image))
    error_message = "github_runner_image must be an image reference (letters, digits and . / : @ _ -)."
  }
}

variable "instance_identity_certificate" {
  type        = string
  description = "PEM of AWS's public \"RSA\" certificate for instance identity documents in this region (EC2 User Guide, \"Verify the instance identity document\", RSA certificate per region; not the DSA or RSA-2048 PKCS7 one). The autoscaler registers a node only when its signed identity document verifies with it, so a join token alone cannot impersonate a node. Public data, not a secret."

  validation {
    condition     = can(regex("^-----BEGIN CERTIFICATE-----\\n[A-Za-z0-9+/=\\n]+-----END CERTIFICATE-----\\n?$", var.instance_identity_certificate))
    error_message = "instance_identity_certificate must be one PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)."
  }
}

variable "max_jobs_per_node" {
  type        = number
  description = "Jobs a node runs before the autoscaler drains and replaces it; 1 makes single-use nodes (each job on a fresh instance, the isolation of one VM per job; with a warm pool the replacement starts in seconds). 0: no limit."
  default     = 0

  validation {
    condition     = var.max_jobs_per_node >= 0 && floor(var.max_jobs_per_node) == var.max_jobs_per_node
    error_message = "max_jobs_per_node must be a whole number >= 0."
  }
}
