package config

import (
	"fmt"
	"strconv"
	"strings"
)

// envOverride is one environment variable that overrides a file setting.
type envOverride struct {
	name  string
	apply func(f *File, v string) error
}

// EnvVars lists the environment variables that override the file, in the
// order they are applied. Per-runner variables apply to every runner.
func EnvVars() []string {
	all := allOverrides()
	out := make([]string, len(all))
	for i, o := range all {
		out[i] = o.name
	}
	return out
}

var overrides = []envOverride{
	{"RUNFLEET_CONCURRENT", intSetter(func(f *File, n int) { f.Concurrent = n })},
	{"RUNFLEET_CHECK_INTERVAL", intSetter(func(f *File, n int) { f.CheckInterval = n })},
	{"RUNFLEET_SHUTDOWN_TIMEOUT", intSetter(func(f *File, n int) { f.ShutdownTimeout = n })},
	{"RUNFLEET_LISTEN_ADDRESS", func(f *File, v string) error { f.ListenAddress = v; return nil }},
	{"RUNFLEET_LOG_LEVEL", func(f *File, v string) error { f.LogLevel = v; return nil }},
	{"RUNFLEET_LOG_FORMAT", func(f *File, v string) error { f.LogFormat = v; return nil }},
	{"RUNFLEET_NODE_NAME", func(f *File, v string) error { f.Node = v; return nil }},
	{"RUNFLEET_INTERRUPTION_CLOUD", func(f *File, v string) error { interruption(f).Cloud = v; return nil }},
	{"RUNFLEET_METADATA_ENDPOINT", func(f *File, v string) error { interruption(f).MetadataEndpoint = v; return nil }},
	{"RUNFLEET_BUILDS_DIR", eachRunner(func(r *RunnerFile, v string) error { r.BuildsDir = v; return nil })},
	{"RUNFLEET_LIMIT", eachRunner(func(r *RunnerFile, v string) error {
		n, err := strconv.Atoi(v)
		r.Limit = n
		return err
	})},
	{"RUNFLEET_CACHE_DIR", eachRunner(func(r *RunnerFile, v string) error { cache(r).Dir = v; return nil })},
	{"RUNFLEET_CACHE_MAX_SIZE", eachRunner(func(r *RunnerFile, v string) error { cache(r).MaxSize = v; return nil })},
	{"RUNFLEET_CACHE_S3_ACCESS_KEY", eachRunner(func(r *RunnerFile, v string) error { cacheS3(r).AccessKey = v; return nil })},
	{"RUNFLEET_CACHE_S3_SECRET_KEY", eachRunner(func(r *RunnerFile, v string) error { cacheS3(r).SecretKey = v; return nil })},
	{"RUNFLEET_DOCKER_HOST", eachRunner(func(r *RunnerFile, v string) error { docker(r).Host = v; return nil })},
	{"RUNFLEET_DOCKER_IMAGE", eachRunner(func(r *RunnerFile, v string) error { docker(r).Image = v; return nil })},
	{"RUNFLEET_DOCKER_PULL_POLICY", eachRunner(func(r *RunnerFile, v string) error {
		docker(r).PullPolicy = strings.Split(v, ",")
		return nil
	})},
	{"RUNFLEET_DOCKER_CPUS", eachRunner(func(r *RunnerFile, v string) error { docker(r).CPUs = v; return nil })},
	{"RUNFLEET_DOCKER_MEMORY", eachRunner(func(r *RunnerFile, v string) error { docker(r).Memory = v; return nil })},
	{"RUNFLEET_DOCKER_MEMORY_SWAP", eachRunner(func(r *RunnerFile, v string) error { docker(r).MemorySwap = v; return nil })},
	{"RUNFLEET_DOCKER_PIDS_LIMIT", eachRunner(func(r *RunnerFile, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		docker(r).PidsLimit = n
		return err
	})},
	{"RUNFLEET_DOCKER_SHM_SIZE", eachRunner(func(r *RunnerFile, v string) error { docker(r).ShmSize = Size(v); return nil })},
	{"RUNFLEET_DOCKER_PRIVILEGED", eachRunner(func(r *RunnerFile, v string) error {
		b, err := strconv.ParseBool(v)
		docker(r).Privileged = b
		return err
	})},
	// Per-[[github]] ones apply to every [[github]] table.
	{"RUNFLEET_GITHUB_STATE_DIR", eachGitHub(func(g *GitHubFile, v string) { g.StateDir = v })},
	{"RUNFLEET_GITHUB_TOOL_CACHE_DIR", eachGitHub(func(g *GitHubFile, v string) { g.ToolCacheDir = v })},
}

func eachGitHub(set func(*GitHubFile, string)) func(*File, string) error {
	return func(f *File, v string) error {
		for i := range f.GitHub {
			set(&f.GitHub[i], v)
		}
		return nil
	}
}

func intSetter(set func(*File, int)) func(*File, string) error {
	return func(f *File, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return err
		}
		set(f, n)
		return nil
	}
}

func eachRunner(set func(*RunnerFile, string) error) func(*File, string) error {
	return func(f *File, v string) error {
		for i := range f.Runners {
			if err := set(&f.Runners[i], v); err != nil {
				return err
			}
		}
		return nil
	}
}

func docker(r *RunnerFile) *DockerFile {
	if r.Docker == nil {
		r.Docker = &DockerFile{}
	}
	return r.Docker
}

func cache(r *RunnerFile) *CacheFile {
	if r.Cache == nil {
		r.Cache = &CacheFile{}
	}
	return r.Cache
}

// ApplyEnv applies the RUNFLEET_* environment overrides (see EnvVars) to f.
func ApplyEnv(f *File, env func(string) (string, bool)) error {
	if env == nil {
		return nil
	}
	for _, o := range allOverrides() {
		v, ok := env(o.name)
		if !ok {
			continue
		}
		if err := o.apply(f, v); err != nil {
			return fmt.Errorf("%w: environment %s=%q: %w", ErrInvalid, o.name, v, err)
		}
	}
	return nil
}

func interruption(f *File) *InterruptionFile {
	if f.Interruption == nil {
		f.Interruption = &InterruptionFile{}
	}
	return f.Interruption
}
