package config

import (
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"
)

// DefaultToolsPath is where the tool cache appears in job containers.
const DefaultToolsPath = "/opt/runfleet/tools"

// CacheFile is [runners.cache].
type CacheFile struct {
	Type    string `toml:"type,omitempty"` // "local" (default) | "s3"
	Dir     string `toml:"dir,omitempty"`  // local store, and the local side of s3
	MaxSize string `toml:"max_size,omitempty"`
	// Shared drops the runner segment from object names, so every runner
	// of the bucket shares one cache (gitlab-runner's Shared).
	Shared bool `toml:"shared,omitempty"`
	// Path prefixes every object name (gitlab-runner's Path).
	Path string       `toml:"path,omitempty"`
	S3   *CacheS3File `toml:"s3,omitempty"`
	// ToolsDir is a host directory mounted into every job at ToolsPath,
	// read-only unless ToolsWritable: toolchains and package-manager
	// stores that jobs share.
	ToolsDir      string `toml:"tools_dir,omitempty"`
	ToolsPath     string `toml:"tools_path,omitempty"`
	ToolsWritable bool   `toml:"tools_writable,omitempty"`
}

// CacheS3File is [runners.cache.s3], with gitlab-runner's settings in this
// file's snake_case.
type CacheS3File struct {
	ServerAddress  string `toml:"server_address,omitempty"` // host[:port]; default AWS S3
	AccessKey      string `toml:"access_key,omitempty"`     // empty: the AWS default credential chain
	SecretKey      string `toml:"secret_key,omitempty"`
	BucketName     string `toml:"bucket_name"`
	BucketLocation string `toml:"bucket_location,omitempty"` // region; default us-east-1
	Insecure       bool   `toml:"insecure,omitempty"`        // http instead of https

	// The same settings as gitlab-runner spells them ([runners.cache.s3]
	// ServerAddress, ...): a gitlab-runner config.toml loads unchanged.
	GLServerAddress  string `toml:"ServerAddress,omitempty"`
	GLAccessKey      string `toml:"AccessKey,omitempty"`
	GLSecretKey      string `toml:"SecretKey,omitempty"`
	GLBucketName     string `toml:"BucketName,omitempty"`
	GLBucketLocation string `toml:"BucketLocation,omitempty"`
}

// merged folds gitlab-runner's spelling into the snake_case fields; giving
// one setting twice with different values is an error.
func (sf CacheS3File) merged() (CacheS3File, error) {
	for _, f := range []struct {
		name    string
		dst     *string
		gl, glN string
	}{
		{"server_address", &sf.ServerAddress, sf.GLServerAddress, "ServerAddress"},
		{"access_key", &sf.AccessKey, sf.GLAccessKey, "AccessKey"},
		{"secret_key", &sf.SecretKey, sf.GLSecretKey, "SecretKey"},
		{"bucket_name", &sf.BucketName, sf.GLBucketName, "BucketName"},
		{"bucket_location", &sf.BucketLocation, sf.GLBucketLocation, "BucketLocation"},
	} {
		switch {
		case f.gl == "":
		case *f.dst == "":
			*f.dst = f.gl
		case *f.dst != f.gl:
			return sf, fmt.Errorf("%s and %s are the same setting and differ", f.name, f.glN)
		}
	}
	return sf, nil
}

// empty reports whether the table sets nothing (gitlab-runner register
// writes an empty [runners.cache.s3]).
func (sf *CacheS3File) empty() bool { return sf == nil || *sf == CacheS3File{} }

// Cache holds the typed [runners.cache] settings.
type Cache struct {
	Type    string // "local" | "s3"
	Dir     string
	MaxSize int64
	Shared  bool
	Path    string
	S3      CacheS3
	Tools   ToolCache
}

// CacheS3 is the typed [runners.cache.s3]. The credentials stay in the
// agent: it moves the archives, jobs never see them.
type CacheS3 struct {
	Endpoint  *url.URL // nil: AWS S3 of Region
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string
}

// ToolCache is the shared tool directory of a runner's jobs.
type ToolCache struct {
	Dir      string // host directory; empty = none
	Path     string // where jobs see it
	Writable bool
}

// volumes returns the tool cache as [runners.docker] volumes entries.
func (t ToolCache) volumes() []string {
	if t.Dir == "" {
		return nil
	}
	mode := "ro"
	if t.Writable {
		mode = "rw"
	}
	return []string{t.Dir + ":" + t.Path + ":" + mode}
}

func cacheFromFile(cf *CacheFile, warn func(key, msg string)) (Cache, error) {
	if cf == nil {
		cf = &CacheFile{}
	}
	c := Cache{Type: cf.Type, Dir: cf.Dir, Shared: cf.Shared, Path: strings.Trim(cf.Path, "/")}
	if c.Type == "" {
		c.Type = "local"
	}
	if c.Dir == "" {
		c.Dir = DefaultCacheDir
	}
	if !filepath.IsAbs(c.Dir) {
		return c, fmt.Errorf("dir %q must be absolute", c.Dir)
	}
	var err error
	if c.MaxSize, err = size("max_size", cf.MaxSize); err != nil {
		return c, err
	}
	if c.MaxSize == 0 {
		c.MaxSize = DefaultCacheMaxSize
	}
	if c.Path != "" && (path.Clean(c.Path) != c.Path || strings.HasPrefix(c.Path, "..")) {
		return c, fmt.Errorf("path %q: want a plain prefix such as \"ci/cache\"", cf.Path)
	}
	switch c.Type {
	case "gcs", "azure":
		warn("runners.cache.Type", fmt.Sprintf("cache type %q is not supported: the cache stays local on the node in %s (supported: local, s3)", c.Type, c.Dir))
		c.Type = "local"
	}
	switch c.Type {
	case "local":
		if !cf.S3.empty() {
			return c, fmt.Errorf(`[runners.cache.s3] needs type = "s3"`)
		}
	case "s3":
		if c.S3, err = s3FromFile(cf.S3); err != nil {
			return c, fmt.Errorf("[runners.cache.s3]: %w", err)
		}
	default:
		return c, fmt.Errorf("type %q is not supported (supported: local, s3)", c.Type)
	}
	if c.Tools, err = toolsFromFile(cf); err != nil {
		return c, err
	}
	return c, nil
}

func s3FromFile(in *CacheS3File) (CacheS3, error) {
	if in == nil {
		return CacheS3{}, fmt.Errorf("bucket_name is required")
	}
	sf, err := in.merged()
	if err != nil {
		return CacheS3{}, err
	}
	if sf.BucketName == "" {
		return CacheS3{}, fmt.Errorf("bucket_name (BucketName) is required")
	}
	s := CacheS3{AccessKey: sf.AccessKey, SecretKey: sf.SecretKey, Bucket: sf.BucketName, Region: sf.BucketLocation}
	if s.Region == "" {
		s.Region = "us-east-1"
	}
	if (s.AccessKey == "") != (s.SecretKey == "") {
		return s, fmt.Errorf("access_key and secret_key go together (or neither, for the AWS default credential chain)")
	}
	if sf.ServerAddress != "" {
		scheme := "https"
		if sf.Insecure {
			scheme = "http"
		}
		u, err := url.Parse(scheme + "://" + sf.ServerAddress)
		if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || strings.Contains(sf.ServerAddress, "://") {
			return s, fmt.Errorf("server_address %q: want host[:port]", sf.ServerAddress)
		}
		u.Path = ""
		s.Endpoint = u
	}
	return s, nil
}

func toolsFromFile(cf *CacheFile) (ToolCache, error) {
	t := ToolCache{Dir: cf.ToolsDir, Path: cf.ToolsPath, Writable: cf.ToolsWritable}
	if t.Dir == "" {
		if t.Path != "" || t.Writable {
			return t, fmt.Errorf("tools_path and tools_writable need tools_dir")
		}
		return t, nil
	}
	if t.Path == "" {
		t.Path = DefaultToolsPath
	}
	if !filepath.IsAbs(t.Dir) || !filepath.IsAbs(t.Path) || strings.Contains(t.Dir+t.Path, ":") {
		return t, fmt.Errorf("tools_dir %q and tools_path %q must be absolute paths without ':'", t.Dir, t.Path)
	}
	return t, nil
}

// cacheS3 returns r's [runners.cache.s3], creating it for an override.
func cacheS3(r *RunnerFile) *CacheS3File {
	c := cache(r)
	if c.S3 == nil {
		c.S3 = &CacheS3File{}
	}
	return c.S3
}
