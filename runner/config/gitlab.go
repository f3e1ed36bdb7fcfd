package config

// gitlab-runner 17/18 writes and documents config.toml keys that runfleet
// does not implement. A config.toml moved from gitlab-runner must load
// unchanged, so every such key is accepted with one warning saying what
// runfleet does instead; a key that is neither runfleet's nor
// gitlab-runner's is an error (unknown.go). The tables below are
// gitlab-runner's keys (common/config.go and
// docs/configuration/advanced-configuration.md), by the table they sit in.
// gitlab-runner matches keys case-insensitively, and so does the lookup.

// glTable describes one gitlab-runner table.
type glTable struct {
	// note is the warning for the whole table when runfleet implements
	// none of it; its keys are then checked but not warned one by one.
	note string
	// keys are the table's gitlab-runner keys runfleet does not implement,
	// with what runfleet does instead (or, for a note-level table, "").
	keys map[string]string
	// opaque tables hold free-form keys (plugin settings, label maps):
	// they are not checked.
	opaque bool
	// child, when set, gives each key of the table its own warning
	// ([runners.feature_flags]).
	child func(key string) string
}

const (
	notLimits   = "not applied: a job's limits are cpus, memory, memory_swap, pids_limit, shm_size and disk_size"
	notCaps     = "not applied: job containers keep runfleet's minimal capability set, no-new-privileges and Docker's default seccomp profile"
	notServices = "not applied: services run with the job's image settings on the job's private network"
	notDevices  = "not applied: no host devices or GPUs are passed to job containers"
	notExecutor = "ignored: runfleet runs jobs with the docker or containerd executor only"
	notScaling  = "ignored: this node runs the jobs on its own container engine; the runfleet control plane (autoscaler run) adds and removes nodes"
	notSameNet  = "not applied: each job gets its own bridge network where services answer to their aliases"
)

var gitlabTables = map[string]glTable{
	"": {keys: map[string]string{
		"user":               "ignored: jobs run in containers, as [runners.docker] user or the image's user",
		"sentry_dsn":         "ignored: no Sentry; errors go to the agent's log and its Prometheus metrics (listen_address)",
		"connection_max_age": "ignored: the GitLab client keeps connections with Go's default idle timeout",
		"labels":             "ignored: runner labels are not exported; metrics carry the runner name",
		"session_server":     "",
		"experimental":       "",
	}},
	"session_server": {note: "ignored: runfleet has no interactive web terminal, so no session server is started",
		keys: map[string]string{"listen_address": "", "advertise_address": "", "session_timeout": ""}},
	"experimental": {note: "ignored: runfleet has no usage logger", opaque: true},
	"labels":       {opaque: true},
	"runners": {keys: map[string]string{
		"shell":                               "ignored: steps run with POSIX sh in the job container",
		"cache_dir":                           "ignored: caches are archives kept on the host in [runners.cache] dir (default " + DefaultCacheDir + "), never in a container volume",
		"strict_check_interval":               "ignored: each runner is polled every check_interval",
		"unhealthy_requests_limit":            "ignored: failed job requests back off exponentially and the runner keeps polling",
		"unhealthy_interval":                  "ignored: failed job requests back off exponentially and the runner keeps polling",
		"job_status_final_update_retry_limit": "ignored: the final job state is retried until GitLab acknowledges it",
		"labels":                              "ignored: runner labels are not exported; metrics carry the runner name",
		"proxy_exec":                          "ignored: there is no helper binary; the agent runs steps through the container engine",
		"debug_trace_disabled":                "ignored: runfleet never runs scripts with shell tracing, whatever CI_DEBUG_TRACE says",
		"safe_directory_checkout":             "ignored: the agent fetches the sources itself; the job's git configuration is not changed",
		"clean_git_config":                    "ignored: the job token never lands in .git/config, so there is no git configuration to clean",
		"custom_build_dir":                    "",
		"referees":                            "",
		"feature_flags":                       "",
		"monitoring":                          "",
		"use_slot_cgroups":                    "ignored: each job container gets its own cgroup with the [runners.docker] limits",
		"slot_cgroup_template":                "ignored: each job container gets its own cgroup with the [runners.docker] limits",
		"instance":                            "",
		"ssh":                                 "",
		"parallels":                           "",
		"virtualbox":                          "",
		"kubernetes":                          "",
		"custom":                              "",
		"machine":                             "",
		"autoscaler":                          "",
		"step_runner_image":                   "ignored: steps run with sh in the job image; no step-runner image is used",
		"pre_clone_script":                    "ignored: removed from gitlab-runner; use pre_get_sources_script",
		"post_clone_script":                   "ignored: removed from gitlab-runner; use post_get_sources_script",
	}},
	"runners.custom_build_dir": {note: "ignored: each job gets its own build directory under builds_dir; GIT_CLONE_PATH is not supported",
		keys: map[string]string{"enabled": ""}},
	"runners.referees":      {note: "ignored: no referees; the agent exports its own Prometheus metrics", opaque: true},
	"runners.monitoring":    {note: "ignored: the agent exports its own Prometheus metrics (listen_address)", opaque: true},
	"runners.instance":      {note: notExecutor, opaque: true},
	"runners.ssh":           {note: notExecutor, opaque: true},
	"runners.parallels":     {note: notExecutor, opaque: true},
	"runners.virtualbox":    {note: notExecutor, opaque: true},
	"runners.kubernetes":    {note: notExecutor, opaque: true},
	"runners.custom":        {note: notExecutor, opaque: true},
	"runners.machine":       {note: notScaling + " (no Docker Machine)", opaque: true},
	"runners.autoscaler":    {note: notScaling + " (no fleeting plugins)", opaque: true},
	"runners.feature_flags": {child: featureFlagNote},
	"runners.docker": {keys: map[string]string{
		"tls_cert_path":                "ignored: TLS to the engine comes from DOCKER_CERT_PATH and DOCKER_TLS_VERIFY in the agent's environment",
		"tls_verify":                   "ignored: TLS to the engine comes from DOCKER_CERT_PATH and DOCKER_TLS_VERIFY in the agent's environment",
		"hostname":                     "ignored: the engine names each job container",
		"memory_reservation":           notLimits,
		"cgroup_parent":                notLimits,
		"cpuset_cpus":                  notLimits,
		"cpuset_mems":                  notLimits,
		"cpu_shares":                   notLimits,
		"ulimit":                       notLimits,
		"oom_score_adjust":             notLimits,
		"oom_kill_disable":             "ignored: the OOM killer stays on; an OOM-killed job fails and its log says so",
		"dns":                          "ignored: job containers use the engine's DNS on the job's own network",
		"dns_search":                   "ignored: job containers use the engine's DNS on the job's own network",
		"services_privileged":          "ignored: services are privileged only when privileged = true",
		"allowed_privileged_images":    "ignored: only privileged = true makes job containers privileged",
		"allowed_privileged_services":  "ignored: only privileged = true makes service containers privileged",
		"disable_entrypoint_overwrite": "ignored: a job's image:entrypoint is honoured",
		"allowed_users":                "ignored: jobs run as user, or as the image's user when user is unset",
		"group_add":                    notCaps,
		"userns_mode":                  notCaps,
		"cap_add":                      notCaps,
		"cap_drop":                     notCaps,
		"security_opt":                 notCaps,
		"services_security_opt":        notCaps,
		"sysctls":                      notCaps,
		"devices":                      notDevices,
		"device_cgroup_rules":          notDevices,
		"gpus":                         notDevices,
		"services_devices":             notDevices,
		"service_gpus":                 notDevices,
		"disable_cache":                "ignored: runfleet creates no cache volumes in containers; caches are archives the agent restores and saves",
		"volume_driver":                "ignored: per-job volumes use the engine's default driver; cap a job's writable space with disk_size",
		"volume_driver_ops":            "ignored: per-job volumes use the engine's default driver; cap a job's writable space with disk_size",
		"cache_dir":                    "ignored: caches are archives kept on the host in [runners.cache] dir (default " + DefaultCacheDir + ")",
		"volumes_from":                 notSameNet,
		"links":                        notSameNet,
		"ipcmode":                      notSameNet,
		"mac_address":                  notSameNet,
		"enable_ipv6":                  "ignored: job networks use the engine's address pools",
		"network_mtu":                  "ignored: job networks use the engine's default MTU",
		"services":                     "ignored: runner-level services are not started; declare services in .gitlab-ci.yml",
		"services_limit":               notServices,
		"service_memory":               notServices,
		"service_memory_swap":          notServices,
		"service_memory_reservation":   notServices,
		"service_cgroup_parent":        notServices,
		"service_slot_cgroup_template": notServices,
		"service_cpuset_cpus":          notServices,
		"service_cpus":                 notServices,
		"service_cpu_shares":           notServices,
		"services_tmpfs":               notServices,
		"wait_for_services_timeout":    "ignored: the job starts once its service containers run",
		"allowed_pull_policies":        "ignored: the pull_policy of a job's image is used as given",
		"allowed_services":             "ignored: allowed_images is the one image allowlist",
		"isolation":                    "ignored: Windows only",
		"tmpfs":                        "ignored: no tmpfs mounts; use volumes",
		"helper_image_flavor":          "ignored: set helper_image to choose the image that checks the sources out",
		"container_labels":             "ignored: containers carry runfleet's dev.runfleet.* labels",
		"log_options":                  "ignored: job output is read from the step's stream, not from the container log",
	}},
	"runners.docker.services":          {keys: map[string]string{"name": "", "alias": "", "command": "", "entrypoint": "", "environment": ""}},
	"runners.docker.sysctls":           {opaque: true},
	"runners.docker.tmpfs":             {opaque: true},
	"runners.docker.services_tmpfs":    {opaque: true},
	"runners.docker.volume_driver_ops": {opaque: true},
	"runners.docker.container_labels":  {opaque: true},
	"runners.docker.ulimit":            {opaque: true},
	"runners.docker.log_options":       {opaque: true},
	"runners.docker.services_devices":  {opaque: true},
	"runners.labels":                   {opaque: true},
	"runners.cache": {keys: map[string]string{
		"MaxUploadedArchiveSize": "ignored: cache uploads are not capped per archive; max_size bounds the node's local cache",
		"gcs":                    "",
		"azure":                  "",
	}},
	"runners.cache.gcs": {note: "ignored: the GCS cache is not supported; set Type = \"s3\" (any S3-compatible store) or keep the local cache",
		keys: map[string]string{"AccessID": "", "PrivateKey": "", "CredentialsFile": "", "BucketName": "", "UniverseDomain": ""}},
	"runners.cache.azure": {note: "ignored: the Azure cache is not supported; set Type = \"s3\" (any S3-compatible store) or keep the local cache",
		keys: map[string]string{"AccountName": "", "AccountKey": "", "ContainerName": "", "StorageDomain": ""}},
	"runners.cache.s3": {keys: map[string]string{
		"SessionToken":              "ignored: give access_key and secret_key, or neither for the AWS default credential chain",
		"AuthenticationType":        "ignored: with AccessKey and SecretKey those are used, without them the AWS default credential chain (iam)",
		"ServerSideEncryption":      "ignored: objects get the bucket's default encryption",
		"ServerSideEncryptionKeyID": "ignored: objects get the bucket's default encryption",
		"DualStack":                 "ignored: the endpoint is ServerAddress or AWS S3 of BucketLocation",
		"PathStyle":                 "ignored: the endpoint is ServerAddress or AWS S3 of BucketLocation",
		"Accelerate":                "ignored: the endpoint is ServerAddress or AWS S3 of BucketLocation",
		"RoleARN":                   "ignored: the agent uses AccessKey/SecretKey or the AWS default credential chain",
		"UploadRoleARN":             "ignored: the agent uses AccessKey/SecretKey or the AWS default credential chain",
	}},
}

// featureFlags are gitlab-runner's feature flags, with runfleet's
// behaviour where it has an equivalent.
var featureFlags = map[string]string{
	"FF_NETWORK_PER_BUILD":                        "always on in runfleet: every job gets its own bridge network",
	"FF_USE_FASTZIP":                              "equivalent built in: runfleet's archiver is parallel and skips compressed files",
	"FF_SCRIPT_SECTIONS":                          "always on in runfleet: each stage is a collapsible log section",
	"FF_POSIXLY_CORRECT_ESCAPES":                  "always on in runfleet: scripts run with POSIX sh",
	"FF_USE_INIT_WITH_DOCKER_EXECUTOR":            "always on in runfleet: job containers run with an init process",
	"FF_ENABLE_JOB_CLEANUP":                       "always on in runfleet: build directories are removed after each job (GIT_STRATEGY=fetch keeps them)",
	"FF_GIT_URLS_WITHOUT_TOKENS":                  "always on in runfleet: the job token travels as an HTTP header, never in a URL",
	"FF_USE_IMPROVED_URL_MASKING":                 "always on in runfleet: masked values are replaced in the log, even across writes",
	"FF_SKIP_NOOP_BUILD_STAGES":                   "always on in runfleet: stages with nothing to do are skipped",
	"FF_CLEAN_UP_FAILED_CACHE_EXTRACT":            "always on in runfleet: a failed cache restore leaves no partial files",
	"FF_DISABLE_AUTOMATIC_TOKEN_ROTATION":         "no equivalent: runner tokens are rotated before they expire",
	"FF_USE_POWERSHELL_PATH_RESOLVER":             "no equivalent: runfleet runs Linux containers with POSIX sh",
	"FF_USE_WINDOWS_LEGACY_PROCESS_STRATEGY":      "no equivalent: Windows is not supported",
	"FF_DISABLE_UMASK_FOR_DOCKER_EXECUTOR":        "no equivalent: files are created with the job container's umask",
	"FF_RESOLVE_FULL_TLS_CHAIN":                   "no equivalent: tls-ca-file is used as given",
	"FF_TIMESTAMPS":                               "no equivalent: log lines carry no timestamps",
	"FF_HASH_CACHE_KEYS":                          "no equivalent: cache keys are sanitised, not hashed",
	"FF_USE_NEW_BASH_EVAL_STRATEGY":               "no equivalent: scripts run with POSIX sh",
	"FF_ENABLE_BASH_EXIT_CODE_CHECK":              "always on in runfleet: every command's exit code stops the step",
	"FF_USE_DIRECT_DOWNLOAD":                      "no equivalent: the agent downloads artifacts through the GitLab API",
	"FF_SET_PERMISSIONS_BEFORE_CLEANUP":           "no equivalent: the agent removes build directories itself",
	"FF_KUBERNETES_HONOR_ENTRYPOINT":              "no equivalent: Kubernetes is not supported",
	"FF_USE_LEGACY_KUBERNETES_EXECUTION_STRATEGY": "no equivalent: Kubernetes is not supported",
	"FF_USE_DUMB_INIT_WITH_KUBERNETES_EXECUTOR":   "no equivalent: Kubernetes is not supported",
	"FF_PRINT_POD_EVENTS":                         "no equivalent: Kubernetes is not supported",
	"FF_RETRIEVE_POD_WARNING_EVENTS":              "no equivalent: Kubernetes is not supported",
	"FF_WAIT_FOR_POD_TO_BE_REACHABLE":             "no equivalent: Kubernetes is not supported",
	"FF_USE_ADVANCED_POD_SPEC_CONFIGURATION":      "no equivalent: Kubernetes is not supported",
	"FF_LOG_IMAGES_CONFIGURED_FOR_JOB":            "always on in runfleet: the job log names its image and services",
	"FF_USE_DOCKER_AUTOSCALER_DIAL_STDIO":         "no equivalent: there is no docker-autoscaler",
	"FF_USE_FLEETING_ACQUIRE_HEARTBEATS":          "no equivalent: there are no fleeting plugins",
	"FF_SECRET_RESOLVING_FAILS_IF_MISSING":        "no equivalent: external secrets are not resolved",
	"FF_USE_GIT_BUNDLE_URIS":                      "no equivalent: sources are fetched with plain git fetch",
	"FF_USE_GIT_NATIVE_CLONE":                     "no equivalent: sources are fetched with git init and fetch",
	"FF_EXPORT_HIGH_CARDINALITY_METRICS":          "no equivalent: metrics are labelled by runner",
	"FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY":      "no equivalent: stages are not retried",
	"FF_USE_ADAPTIVE_REQUEST_CONCURRENCY":         "no equivalent: each runner polls with one request at a time",
	"FF_SCRIPT_TO_STEP_MIGRATION":                 "no equivalent: steps run with sh",
	"FF_USE_JOB_ROUTER":                           "no equivalent: jobs are requested from the GitLab API",
	"FF_TEST_FEATURE":                             "no equivalent",
}

// featureFlagNote is the warning for one [runners.feature_flags] key.
func featureFlagNote(key string) string {
	for k, v := range featureFlags {
		if equalFold(k, key) {
			return v
		}
	}
	return "ignored: not a gitlab-runner feature flag runfleet knows"
}
