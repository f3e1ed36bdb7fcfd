package config

import "time"

// File is the on-disk TOML document. Quantities stay as the operator wrote
// them here; Load turns them into a typed Config.
type File struct {
	Concurrent      int               `toml:"concurrent"`
	CheckInterval   int               `toml:"check_interval,omitempty"`   // seconds
	ListenAddress   string            `toml:"listen_address,omitempty"`   // host:port for /metrics and /healthz
	ShutdownTimeout int               `toml:"shutdown_timeout,omitempty"` // seconds
	ReapInterval    int               `toml:"reap_interval,omitempty"`    // seconds between reaps of leftovers, default 600
	LogLevel        string            `toml:"log_level,omitempty"`
	LogFormat       string            `toml:"log_format,omitempty"` // text | json
	Node            string            `toml:"node_name,omitempty"`
	Interruption    *InterruptionFile `toml:"interruption,omitempty"`
	Cleanup         *CleanupFile      `toml:"cleanup,omitempty"` // cleanup.go
	Fleet           *FleetFile        `toml:"fleet,omitempty"`   // fleet.go
	Runners         []RunnerFile      `toml:"runners"`

	// Warnings are the gitlab-runner settings the file holds that runfleet
	// does not implement (gitlab.go); Read fills them.
	Warnings []Warning    `toml:"-"`
	GitHub   []GitHubFile `toml:"github,omitempty"` // github.go

	// [[github_scale_set]] tables (github_scaleset.go).
	GitHubScaleSets []GitHubScaleSetFile `toml:"github_scale_set,omitempty"`
}

// InterruptionFile is [interruption]: which cloud's notices to watch.
type InterruptionFile struct {
	Cloud            string `toml:"cloud"`                       // aws | gcp | azure
	MetadataEndpoint string `toml:"metadata_endpoint,omitempty"` // default per cloud
	CheckInterval    int    `toml:"check_interval,omitempty"`    // seconds, default 5
}

// RunnerFile is one [[runners]] entry.
type RunnerFile struct {
	Name            string    `toml:"name"`
	URL             string    `toml:"url"`
	ID              int64     `toml:"id,omitempty"`
	Token           string    `toml:"token"`
	TokenObtainedAt time.Time `toml:"token_obtained_at,omitempty"` // a TOML datetime (or an RFC 3339 string)
	TokenExpiresAt  time.Time `toml:"token_expires_at,omitempty"`  // zero (0001-01-01T00:00:00Z) = never
	// TLS to GitLab (gitlab-runner's keys): a CA bundle for the API and
	// git over https, and a client certificate.
	TLSCAFile   string `toml:"tls-ca-file,omitempty"`
	TLSCertFile string `toml:"tls-cert-file,omitempty"`
	TLSKeyFile  string `toml:"tls-key-file,omitempty"`
	// CloneURL replaces the scheme, host and path prefix of the URL
	// sources are fetched from (gitlab-runner's clone_url).
	CloneURL        string `toml:"clone_url,omitempty"`
	Executor        string `toml:"executor"`
	Limit           int    `toml:"limit,omitempty"`
	BuildsDir       string `toml:"builds_dir,omitempty"`
	SourcesStoreTTL int    `toml:"sources_store_ttl,omitempty"` // seconds a slot keeps a source store no job used, default 7 days
	// WarmContainers keeps a sources helper and a job container created
	// ahead of each slot's next job: true both, false neither, unset the
	// helper always and the job container on containerd only.
	WarmContainers     *bool    `toml:"warm_containers,omitempty"`
	OutputLimit        int      `toml:"output_limit,omitempty"` // KiB, as gitlab-runner
	RequestConcurrency int      `toml:"request_concurrency,omitempty"`
	TagList            []string `toml:"tag_list,omitempty"` // informational; tags live on the server
	Environment        []string `toml:"environment,omitempty"`
	// Runner-level hooks (gitlab-runner's), run in the job container:
	// before and after fetching the sources, and in the same shell before
	// and after each script step (before after_script).
	PreGetSourcesScript  string          `toml:"pre_get_sources_script,omitempty"`
	PostGetSourcesScript string          `toml:"post_get_sources_script,omitempty"`
	PreBuildScript       string          `toml:"pre_build_script,omitempty"`
	PostBuildScript      string          `toml:"post_build_script,omitempty"`
	Docker               *DockerFile     `toml:"docker,omitempty"`
	Containerd           *ContainerdFile `toml:"containerd,omitempty"`
	Cache                *CacheFile      `toml:"cache,omitempty"`
}

// DockerFile is [runners.docker].
type DockerFile struct {
	Host          string        `toml:"host,omitempty"`
	Image         string        `toml:"image"`
	PullPolicy    StringOrArray `toml:"pull_policy,omitempty"` // a string or an array
	CPUs          string        `toml:"cpus,omitempty"`
	Memory        string        `toml:"memory,omitempty"`
	MemorySwap    string        `toml:"memory_swap,omitempty"`
	PidsLimit     int64         `toml:"pids_limit,omitempty"`
	ShmSize       Size          `toml:"shm_size,omitempty"`  // bytes (integer) or "64m"
	DiskSize      Size          `toml:"disk_size,omitempty"` // cap on the job's writable space
	Privileged    bool          `toml:"privileged"`
	ReadOnly      bool          `toml:"read_only,omitempty"`
	Runtime       string        `toml:"runtime,omitempty"`
	User          string        `toml:"user,omitempty"`
	Volumes       []string      `toml:"volumes,omitempty"`
	NetworkMode   string        `toml:"network_mode,omitempty"` // "" (per-job network) | "none"
	ExtraHosts    []string      `toml:"extra_hosts,omitempty"`
	AllowedImages []string      `toml:"allowed_images,omitempty"`
	// HelperImage checks the sources out in a container of its own
	// (default runfleet/git-helper:latest, images/git-helper).
	HelperImage string `toml:"helper_image,omitempty"`
	// BlockedEgressCIDRs are more networks jobs must not reach, besides the
	// metadata endpoint, the control plane and the agent's listeners.
	BlockedEgressCIDRs []string `toml:"blocked_egress_cidrs,omitempty"`
}
