package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	units "github.com/docker/go-units"
)

// Defaults applied when the file leaves a value out.
const (
	DefaultConcurrent      = 1
	DefaultCheckInterval   = 3 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	DefaultOutputLimit     = 4 << 20
	DefaultBuildsDir       = "/var/lib/runfleet/builds"
	DefaultCacheDir        = "/var/lib/runfleet/cache"
	DefaultCacheMaxSize    = 10 << 30
	DefaultImage           = "runfleet/busybox:latest"
	DefaultReapInterval    = 10 * time.Minute
	// DefaultSourcesStoreTTL is how long a source store unused is kept.
	DefaultSourcesStoreTTL = 7 * 24 * time.Hour
)

// ErrInvalid marks a configuration the agent refuses to run with.
var ErrInvalid = errors.New("invalid configuration")

// Config is the typed runtime configuration.
type Config struct {
	Path            string
	Concurrent      int
	CheckInterval   time.Duration
	ListenAddress   string
	ShutdownTimeout time.Duration
	// ReapInterval is how often the agent removes leftovers of jobs not
	// running on it (reap_interval).
	ReapInterval time.Duration
	LogLevel     string
	LogFormat    string
	Node         string
	Interruption Interruption
	// Cleanup is [cleanup]: the bounds of finished jobs' engine cleanups
	// (cleanup.go).
	Cleanup         Cleanup
	Fleet           Fleet // fleet.go
	Runners         []Runner
	GitHub          []GitHub // github.go
	GitHubScaleSets []GitHubScaleSet
	// Warnings are the gitlab-runner settings the agent accepts but does
	// not implement, each with what it does instead.
	Warnings []Warning
}

// Interruption says which cloud's interruption notices the agent watches
// (Cloud empty: none).
type Interruption struct {
	Cloud         string
	Endpoint      string
	CheckInterval time.Duration
}

// Runner is one registered runner with everything parsed.
type Runner struct {
	Name  string
	URL   *url.URL
	ID    int64
	Token string
	// TokenObtainedAt and TokenExpiresAt drive token rotation; a zero
	// TokenExpiresAt means the token does not expire.
	TokenObtainedAt time.Time
	TokenExpiresAt  time.Time
	Executor        string
	Limit           int // 0 = bounded only by Concurrent
	BuildsDir       string
	// SourcesStoreTTL is how long a slot keeps the source store of a
	// project no job of the slot fetched into (sources_store_ttl).
	SourcesStoreTTL time.Duration
	// WarmContainers keeps, per slot, a sources helper created ahead of
	// the slot's next job, and WarmJobContainers a job container too
	// (warm_containers: true both, false neither; unset the helper, and
	// the job container on containerd only: a dockerd 20.10 restarted
	// with waiting job containers can fail to start again, moby issue
	// 45057).
	WarmContainers, WarmJobContainers bool
	OutputLimit                       int64 // bytes
	Environment                       []string
	// CloneURL, when set, replaces the scheme, host and path prefix of the
	// repository URL sources are fetched from (gitlab-runner's clone_url).
	CloneURL *url.URL
	// TLS settings for GitLab (tls.go).
	TLSCAFile, TLSCertFile, TLSKeyFile string
	// Hooks run in the job container (gitlab-runner's runner-level hooks).
	PreGetSourcesScript, PostGetSourcesScript string
	PreBuildScript, PostBuildScript           string
	Docker                                    Docker
	// Containerd is [runners.containerd] for executor "containerd" (whose
	// job-container settings are in Docker).
	Containerd Containerd
	Cache      Cache
}

// Docker holds the typed [runners.docker] settings.
type Docker struct {
	Host       string
	Image      string
	PullPolicy string // always | if-not-present | never
	NanoCPUs   int64
	Memory     int64
	MemorySwap int64
	PidsLimit  int64
	ShmSize    int64
	// DiskSize caps the job's writable space (bytes, 0 = no cap) where the
	// executor can enforce it; it says in the job log what it enforced.
	DiskSize      int64
	Privileged    bool
	ReadOnly      bool
	Runtime       string
	User          string
	Volumes       []string
	NetworkMode   string
	ExtraHosts    []string
	AllowedImages []string
	// HelperImage runs the checkout of the sources (empty: the default).
	HelperImage string
	// BlockedEgressCIDRs are extra networks the job egress policy blocks.
	BlockedEgressCIDRs []string
}

// ShortToken is the token prefix used in names and paths (never the whole
// secret), as gitlab-runner does.
func (r Runner) ShortToken() string {
	t := strings.TrimPrefix(r.Token, "glrt-")
	if len(t) > 8 {
		t = t[:8]
	}
	return t
}

// Read decodes the file at path without applying defaults or environment.
// gitlab-runner's keys that runfleet does not implement land in
// File.Warnings; any other unknown key is an error (an *UnknownKeyError
// under ErrInvalid, naming the key and the closest known one).
func Read(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("read config: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return f, fmt.Errorf("config %s: %w", path, err)
	}
	return f, nil
}

// Parse decodes config.toml text as Read does.
func Parse(b []byte) (File, error) {
	var f File
	md, err := toml.Decode(string(b), &f)
	if err != nil {
		return f, fmt.Errorf("%w: parse config: %w", ErrInvalid, err)
	}
	var raw map[string]any
	if _, err := toml.Decode(string(b), &raw); err != nil {
		return f, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	warns, err := classify(md.Undecoded(), raw)
	if err != nil {
		return f, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	f.Warnings = warns
	return f, nil
}

// Load reads the file, applies environment overrides (see Env) and
// defaults, and validates the result. Config.Warnings lists the
// gitlab-runner settings it ignores (log them with LogWarnings).
func Load(path string, env func(string) (string, bool)) (*Config, error) {
	return load(path, env, false)
}

// LoadLocal is Load for `runner exec`: a runner needs no url or token,
// since no coordinator is involved.
func LoadLocal(path string, env func(string) (string, bool)) (*Config, error) {
	return load(path, env, true)
}

func load(path string, env func(string) (string, bool), local bool) (*Config, error) {
	f, err := Read(path)
	if err != nil {
		return nil, err
	}
	if err := ApplyEnv(&f, env); err != nil {
		return nil, err
	}
	c, err := fromFile(f, local)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.Path = path
	return c, nil
}

// FromFile turns a File into a validated Config.
func FromFile(f File) (*Config, error) { return fromFile(f, false) }

// FromFileLocal is FromFile for `runner exec` (see LoadLocal).
func FromFileLocal(f File) (*Config, error) { return fromFile(f, true) }

func fromFile(f File, local bool) (*Config, error) {
	c := &Config{
		Warnings:        append([]Warning(nil), f.Warnings...),
		Concurrent:      f.Concurrent,
		CheckInterval:   time.Duration(f.CheckInterval) * time.Second,
		ListenAddress:   f.ListenAddress,
		ShutdownTimeout: time.Duration(f.ShutdownTimeout) * time.Second,
		ReapInterval:    time.Duration(f.ReapInterval) * time.Second,
		LogLevel:        f.LogLevel,
		LogFormat:       f.LogFormat,
		Node:            f.Node,
	}
	if c.Concurrent <= 0 {
		c.Concurrent = DefaultConcurrent
	}
	if c.CheckInterval <= 0 {
		c.CheckInterval = DefaultCheckInterval
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if f.ReapInterval < 0 {
		return nil, fmt.Errorf("%w: reap_interval %d: want seconds > 0", ErrInvalid, f.ReapInterval)
	}
	if c.ReapInterval == 0 {
		c.ReapInterval = DefaultReapInterval
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.Node == "" {
		h, _ := os.Hostname()
		c.Node = h
	}
	if c.Node == "" {
		c.Node = "runfleet"
	}
	var errs []error
	if in := f.Interruption; in != nil {
		c.Interruption = Interruption{Cloud: in.Cloud, Endpoint: in.MetadataEndpoint, CheckInterval: time.Duration(in.CheckInterval) * time.Second}
		switch in.Cloud {
		case "", "aws", "gcp", "azure":
		default:
			errs = append(errs, fmt.Errorf("[interruption] cloud %q: want aws, gcp or azure", in.Cloud))
		}
		if c.Interruption.CheckInterval <= 0 {
			c.Interruption.CheckInterval = 5 * time.Second
		}
	}
	if cl, err := cleanupFromFile(f.Cleanup); err != nil {
		errs = append(errs, err)
	} else {
		c.Cleanup = cl
	}
	if fl, err := fleetFromFile(f.Fleet, c.Node); err != nil {
		errs = append(errs, err)
	} else {
		c.Fleet = fl
	}
	if gh, err := githubFromFiles(f.GitHub); err != nil {
		errs = append(errs, err)
	} else {
		c.GitHub = gh
		errs = append(errs, fleetCredentialsError(gh, c.Fleet)) // github.go
	}
	if ss, err := scaleSetsFromFiles(f.GitHubScaleSets); err != nil {
		errs = append(errs, err)
	} else {
		c.GitHubScaleSets = ss
		errs = append(errs, fleetScaleSetError(ss, c.Fleet), sourceNameError(c.GitHub, ss)) // github_scaleset.go
	}
	warn := func(key, msg string) {
		for _, w := range c.Warnings {
			if w.Key == key && w.Message == msg {
				return
			}
		}
		c.Warnings = append(c.Warnings, Warning{Key: key, Message: msg})
	}
	for i, rf := range f.Runners {
		r, err := runnerFromFile(rf, local, warn)
		if err != nil {
			errs = append(errs, fmt.Errorf("runners[%d] (%s): %w", i, rf.Name, err))
			continue
		}
		c.Runners = append(c.Runners, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return c, nil
}

func runnerFromFile(rf RunnerFile, local bool, warn func(key, msg string)) (Runner, error) {
	r := Runner{
		Name:                 rf.Name,
		ID:                   rf.ID,
		Token:                rf.Token,
		TokenObtainedAt:      rf.TokenObtainedAt,
		TokenExpiresAt:       rf.TokenExpiresAt,
		Executor:             rf.Executor,
		Limit:                rf.Limit,
		BuildsDir:            rf.BuildsDir,
		SourcesStoreTTL:      time.Duration(rf.SourcesStoreTTL) * time.Second,
		WarmContainers:       rf.WarmContainers == nil || *rf.WarmContainers,
		WarmJobContainers:    warmJobContainers(rf),
		OutputLimit:          int64(rf.OutputLimit) << 10,
		Environment:          rf.Environment,
		TLSCAFile:            rf.TLSCAFile,
		TLSCertFile:          rf.TLSCertFile,
		TLSKeyFile:           rf.TLSKeyFile,
		PreGetSourcesScript:  rf.PreGetSourcesScript,
		PostGetSourcesScript: rf.PostGetSourcesScript,
		PreBuildScript:       rf.PreBuildScript,
		PostBuildScript:      rf.PostBuildScript,
	}
	if local && rf.URL == "" {
		// runner exec: no coordinator
	} else if u, err := url.Parse(rf.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return r, fmt.Errorf("url %q: want http(s)://host", rf.URL)
	} else {
		r.URL = u
	}
	if local && r.Token == "" {
		r.Token = "local"
	}
	if rf.CloneURL != "" {
		u, err := url.Parse(rf.CloneURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return r, fmt.Errorf("clone_url %q: want http(s)://host[/path], without credentials", rf.CloneURL)
		}
		r.CloneURL = u
	}
	if _, err := r.TLSConfig(); err != nil {
		return r, err
	}
	if r.Token == "" {
		return r, errors.New("token is empty")
	}
	switch r.Executor {
	case "":
		r.Executor = "docker"
	case "docker+machine", "docker-autoscaler", "docker+autoscaler":
		warn("runners.executor", fmt.Sprintf("executor %q runs as \"docker\" on this node's engine; the runfleet control plane (autoscaler run) adds and removes nodes", r.Executor))
		r.Executor = "docker"
	}
	if r.Executor != "docker" && r.Executor != "containerd" {
		return r, fmt.Errorf("executor %q is not supported (supported: docker, containerd; docker+machine and docker-autoscaler run as docker)", r.Executor)
	}
	if r.Limit < 0 {
		return r, fmt.Errorf("limit %d is negative", r.Limit)
	}
	if rf.RequestConcurrency > 1 {
		warn("runners.request_concurrency", "ignored: each runner asks GitLab for one job at a time")
	}
	if r.BuildsDir == "" {
		r.BuildsDir = DefaultBuildsDir
	}
	if !filepath.IsAbs(r.BuildsDir) {
		return r, fmt.Errorf("builds_dir %q must be absolute", r.BuildsDir)
	}
	switch {
	case rf.SourcesStoreTTL < 0:
		return r, fmt.Errorf("sources_store_ttl %d is negative", rf.SourcesStoreTTL)
	case rf.SourcesStoreTTL == 0:
		r.SourcesStoreTTL = DefaultSourcesStoreTTL
	}
	if r.OutputLimit <= 0 {
		r.OutputLimit = DefaultOutputLimit
	}
	for _, e := range r.Environment {
		if !strings.Contains(e, "=") {
			return r, fmt.Errorf("environment entry %q: want KEY=VALUE", e)
		}
	}
	var err error
	if r.Executor == "containerd" {
		r.Containerd, r.Docker, err = containerdFromFile(rf, warn)
	} else if r.Docker, err = dockerFromFile(rf.Docker, "runners.docker", warn); err != nil {
		err = fmt.Errorf("[runners.docker]: %w", err)
	}
	if err != nil {
		return r, err
	}
	c, err := cacheFromFile(rf.Cache, warn)
	if err != nil {
		return r, fmt.Errorf("[runners.cache]: %w", err)
	}
	r.Cache = c
	r.Docker.Volumes = append(r.Docker.Volumes, c.Tools.volumes()...)
	return r, nil
}

func dockerFromFile(df *DockerFile, table string, warn func(key, msg string)) (Docker, error) {
	if df == nil {
		df = &DockerFile{}
	}
	d := Docker{
		Host:          df.Host,
		Image:         df.Image,
		PidsLimit:     df.PidsLimit,
		Privileged:    df.Privileged,
		ReadOnly:      df.ReadOnly,
		Runtime:       df.Runtime,
		User:          df.User,
		Volumes:       df.Volumes,
		NetworkMode:   df.NetworkMode,
		ExtraHosts:    df.ExtraHosts,
		AllowedImages: df.AllowedImages,
		HelperImage:   df.HelperImage,
	}
	for _, c := range df.BlockedEgressCIDRs {
		if _, _, err := net.ParseCIDR(c); err != nil {
			return d, fmt.Errorf("blocked_egress_cidrs %q: want a CIDR such as 10.0.0.0/8", c)
		}
		d.BlockedEgressCIDRs = append(d.BlockedEgressCIDRs, c)
	}
	if d.Image == "" {
		d.Image = DefaultImage
	}
	switch len(df.PullPolicy) {
	case 0:
		d.PullPolicy = "if-not-present"
	case 1:
		d.PullPolicy = df.PullPolicy[0]
	default:
		d.PullPolicy = df.PullPolicy[0]
		warn(table+".pull_policy", fmt.Sprintf("the first pull policy (%s) is used; falling back to %s when it fails is not implemented",
			d.PullPolicy, strings.Join(df.PullPolicy[1:], ", ")))
	}
	switch d.PullPolicy {
	case "always", "if-not-present", "never":
	default:
		return d, fmt.Errorf("pull_policy %q: want always, if-not-present or never", d.PullPolicy)
	}
	switch d.NetworkMode {
	case "", "none":
	case "bridge", "host":
		warn(table+".network_mode", fmt.Sprintf("network_mode %q is ignored: each job gets its own bridge network (or none with network_mode = \"none\")", d.NetworkMode))
		d.NetworkMode = ""
	default:
		return d, fmt.Errorf("network_mode %q: want \"\" (a private network per job) or \"none\"", d.NetworkMode)
	}
	if df.CPUs != "" {
		f, err := strconv.ParseFloat(df.CPUs, 64)
		if err != nil || f <= 0 {
			return d, fmt.Errorf("cpus %q: want a positive number such as \"1.5\"", df.CPUs)
		}
		d.NanoCPUs = int64(f * 1e9)
	}
	var err error
	if d.Memory, err = size("memory", df.Memory); err != nil {
		return d, err
	}
	if df.MemorySwap == "-1" {
		d.MemorySwap = -1
	} else if d.MemorySwap, err = size("memory_swap", df.MemorySwap); err != nil {
		return d, err
	}
	if d.MemorySwap > 0 && d.MemorySwap < d.Memory {
		return d, fmt.Errorf("memory_swap (%d) must be at least memory (%d)", d.MemorySwap, d.Memory)
	}
	if d.ShmSize, err = size("shm_size", string(df.ShmSize)); err != nil {
		return d, err
	}
	if d.DiskSize, err = size("disk_size", string(df.DiskSize)); err != nil {
		return d, err
	}
	if d.PidsLimit < 0 {
		return d, fmt.Errorf("pids_limit %d is negative", d.PidsLimit)
	}
	var volumes []string
	for _, v := range d.Volumes {
		if err := checkVolume(v); err != nil {
			return d, err
		}
		if engineSocket(v) {
			warn(table+".volumes", fmt.Sprintf("volume %q is not mounted: jobs never get the container engine's socket (use a docker:dind service with privileged = true)", v))
			continue
		}
		volumes = append(volumes, v)
	}
	d.Volumes = volumes
	if strings.Contains(d.HelperImage, "gitlab-runner-helper") || strings.Contains(d.HelperImage, "$") {
		warn(table+".helper_image", fmt.Sprintf("helper_image %q is gitlab-runner's helper: runfleet checks sources out with its own helper image", d.HelperImage))
		d.HelperImage = ""
	}
	return d, nil
}

// engineSockets are the sockets of container engines: whoever reaches one
// owns the node.
var engineSockets = []string{"docker.sock", "containerd.sock", "podman.sock", "crio.sock", "buildkitd.sock"}

// engineSocket reports whether a volume binds a container engine's socket
// (gitlab-runner configs often mount /var/run/docker.sock).
func engineSocket(v string) bool {
	src, _, bind := strings.Cut(v, ":")
	return bind && slices.Contains(engineSockets, filepath.Base(src))
}

// checkVolume accepts "/container/path" (a per-job volume) and
// "/host:/container[:ro|rw]" (a bind mount).
func checkVolume(v string) error {
	parts := strings.Split(v, ":")
	switch {
	case len(parts) == 1 && filepath.IsAbs(parts[0]):
		return nil
	case (len(parts) == 2 || len(parts) == 3) && filepath.IsAbs(parts[0]) && filepath.IsAbs(parts[1]):
		if len(parts) == 3 && parts[2] != "ro" && parts[2] != "rw" {
			return fmt.Errorf("volume %q: mode must be ro or rw", v)
		}
		return nil
	}
	return fmt.Errorf("volume %q: want /container/path or /host/path:/container/path[:ro]", v)
}

// size parses "512m", "2g", "1GiB" or a plain byte count.
func size(name, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := units.RAMInBytes(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s %q: want a size such as 512m or 2g", name, s)
	}
	return n, nil
}

// warmJobContainers is warm_containers for job containers: as set, or
// when unset on containerd only (see Runner.WarmJobContainers).
func warmJobContainers(rf RunnerFile) bool {
	if rf.WarmContainers != nil {
		return *rf.WarmContainers
	}
	return rf.Executor == "containerd"
}
