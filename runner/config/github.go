package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// GitHub sources live in their own [[github]] tables rather than in
// [[runners]]: a [[runners]] entry is gitlab-runner's shape (one runner
// token, tags on the server, per-runner RUNFLEET_* overrides), while a
// GitHub source is a set of credentials that mints a fresh runner per
// slot, with labels, a runner group and the runner image of its own.

// Defaults of a [[github]] table.
const (
	DefaultGitHubRunnerImage  = "runfleet/github-runner:latest"
	DefaultGitHubStateDir     = "/var/lib/runfleet/github"
	DefaultGitHubToolCacheDir = "/var/lib/runfleet/toolcache"
)

// GitHubFile is one [[github]] table.
type GitHubFile struct {
	Name string `toml:"name"`
	// URL is https://github.com/ORG, /ORG/REPO or /enterprises/ENT (or the
	// same on a GitHub Enterprise Server host).
	URL string `toml:"url"`
	// A GitHub App installation (preferred) ...
	AppID          int64  `toml:"app_id,omitempty"`
	InstallationID int64  `toml:"installation_id,omitempty"`
	PrivateKeyFile string `toml:"private_key_file,omitempty"`
	// ... or a personal access token, inline (the file is 0600) or in a file.
	Token     string `toml:"token,omitempty"`
	TokenFile string `toml:"token_file,omitempty"`
	// ... or Credentials = "fleet": the fleet's control plane ([fleet])
	// mints this node's runners with credentials it alone holds; the table
	// then has no url, credentials, runner_group nor jit_per_minute.
	Credentials string `toml:"credentials,omitempty"`

	Labels       []string `toml:"labels"`
	RunnerGroup  string   `toml:"runner_group,omitempty"` // name; "" = Default
	RunnerImage  string   `toml:"runner_image,omitempty"`
	PullPolicy   string   `toml:"pull_policy,omitempty"`
	NamePrefix   string   `toml:"name_prefix,omitempty"`
	Limit        int      `toml:"limit,omitempty"`
	Executor     string   `toml:"executor,omitempty"` // docker (default) or containerd
	DockerHost   string   `toml:"docker_host,omitempty"`
	CPUs         string   `toml:"cpus,omitempty"`
	Memory       string   `toml:"memory,omitempty"`
	PidsLimit    int64    `toml:"pids_limit,omitempty"`
	ToolCacheDir string   `toml:"tool_cache_dir,omitempty"`
	// ToolCacheWritable lets jobs install into the shared tool cache; only
	// for a table whose url names one repository.
	ToolCacheWritable bool   `toml:"tool_cache_writable,omitempty"`
	StateDir          string `toml:"state_dir,omitempty"`
	// JITPerMinute budgets JIT minting (0 = 170, GitHub's limit per App).
	JITPerMinute float64 `toml:"jit_per_minute,omitempty"`
	// Containerd is the engine of executor "containerd" (github_containerd.go).
	Containerd *GitHubContainerdFile `toml:"containerd,omitempty"`
}

// GitHub is a validated [[github]] table.
type GitHub struct {
	Name           string
	URL            *url.URL
	AppID          int64
	InstallationID int64
	PrivateKeyFile string
	// Token is the personal access token (read from TokenFile when set).
	Token        string
	Labels       []string
	RunnerGroup  string
	RunnerImage  string
	PullPolicy   string
	NamePrefix   string
	Limit        int
	Executor     string
	DockerHost   string
	Containerd   Containerd // executor "containerd" only
	NanoCPUs     int64
	Memory       int64
	PidsLimit    int64
	ToolCacheDir string
	// ToolCacheWritable: jobs may change the shared tool cache.
	ToolCacheWritable bool
	StateDir          string
	JITPerMinute      float64
	// Credentials is CredentialsFleet when the control plane mints the
	// runners (URL is then nil: the control plane's target is used).
	Credentials string
	// ScaleSet is set on the GitHub of a [[github_scale_set]] table with
	// credentials = "fleet": the control plane mints its runners on that
	// scale set, whose session it holds. Empty everywhere else.
	ScaleSet string
}

// CredentialsFleet is [[github]] credentials = "fleet".
const CredentialsFleet = "fleet"

// FromFleet reports whether the control plane mints the table's runners.
func (g GitHub) FromFleet() bool { return g.Credentials == CredentialsFleet }

// LogValue keeps the token out of logs.
func (g GitHub) LogValue() slog.Value {
	auth, target := "token", "(the fleet's)"
	switch {
	case g.FromFleet():
		auth = "fleet"
	case g.AppID != 0:
		auth = "app " + strconv.FormatInt(g.AppID, 10)
	}
	if g.URL != nil {
		target = g.URL.String()
	}
	return slog.GroupValue(slog.String("name", g.Name), slog.String("url", target), slog.String("auth", auth))
}

// String keeps the token out of fmt output.
func (g GitHub) String() string { return g.LogValue().String() }

func githubFromFiles(fs []GitHubFile) ([]GitHub, error) {
	var out []GitHub
	var errs []error
	names := map[string]bool{}
	for i, gf := range fs {
		g, err := githubFromFile(gf)
		if err == nil && names[g.Name] {
			err = fmt.Errorf("name %q is used twice", g.Name)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("github[%d] (%s): %w", i, gf.Name, err))
			continue
		}
		names[g.Name] = true
		out = append(out, g)
	}
	return out, errors.Join(errs...)
}

func githubFromFile(gf GitHubFile) (GitHub, error) {
	g := GitHub{
		Name: gf.Name, AppID: gf.AppID, InstallationID: gf.InstallationID, PrivateKeyFile: gf.PrivateKeyFile,
		Token: gf.Token, RunnerGroup: gf.RunnerGroup, RunnerImage: gf.RunnerImage, PullPolicy: gf.PullPolicy,
		NamePrefix: gf.NamePrefix, Limit: gf.Limit, Executor: gf.Executor, DockerHost: gf.DockerHost, PidsLimit: gf.PidsLimit,
		ToolCacheDir: gf.ToolCacheDir, StateDir: gf.StateDir, JITPerMinute: gf.JITPerMinute,
		ToolCacheWritable: gf.ToolCacheWritable,
	}
	if g.Name == "" {
		g.Name = "github"
	}
	if err := githubCredentials(&g, gf); err != nil {
		return g, err
	}
	if err := githubLabels(&g, gf); err != nil {
		return g, err
	}
	return g, githubRunnerSettings(&g, gf)
}

// githubCredentials checks the table's target and credentials: its own
// (url and an App or a token), or the fleet's.
func githubCredentials(g *GitHub, gf GitHubFile) error {
	switch gf.Credentials {
	case "":
	case CredentialsFleet:
		g.Credentials = CredentialsFleet
		var set []string
		for _, k := range []struct {
			key string
			set bool
		}{{"url", gf.URL != ""}, {"app_id", gf.AppID != 0}, {"installation_id", gf.InstallationID != 0},
			{"private_key_file", gf.PrivateKeyFile != ""}, {"token", gf.Token != ""}, {"token_file", gf.TokenFile != ""},
			{"runner_group", gf.RunnerGroup != ""}, {"jit_per_minute", gf.JITPerMinute != 0}, {"tool_cache_writable", gf.ToolCacheWritable}} {
			if k.set {
				set = append(set, k.key)
			}
		}
		if len(set) > 0 {
			return fmt.Errorf(`credentials = "fleet": the control plane's [github_jit] holds the target, the GitHub credentials, the runner group and the minting budget; remove %s`, strings.Join(set, ", "))
		}
		return nil
	default:
		return fmt.Errorf(`credentials %q: want "fleet" (the control plane mints this node's runners) or no credentials key (the table's own app_id… or token_file)`, gf.Credentials)
	}
	u, err := url.Parse(gf.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return fmt.Errorf("url %q: want https://github.com/ORG[/REPO]", gf.URL)
	}
	g.URL = u
	if g.ToolCacheWritable && strings.Count(strings.Trim(u.Path, "/"), "/") != 1 {
		return fmt.Errorf("tool_cache_writable needs a url naming one repository (https://github.com/ORG/REPO): the runners of %s take jobs of every repository", gf.URL)
	}
	app := gf.AppID != 0 || gf.InstallationID != 0 || gf.PrivateKeyFile != ""
	pat := gf.Token != "" || gf.TokenFile != ""
	switch {
	case app && pat:
		return errors.New("give either app_id/installation_id/private_key_file or token/token_file, not both")
	case app && (gf.AppID <= 0 || gf.InstallationID <= 0 || gf.PrivateKeyFile == ""):
		return errors.New("a GitHub App needs app_id, installation_id and private_key_file")
	case !app && !pat:
		return errors.New("no credentials: set app_id, installation_id and private_key_file, or token_file")
	case gf.Token != "" && gf.TokenFile != "":
		return errors.New("give token or token_file, not both")
	}
	if gf.TokenFile != "" {
		b, err := os.ReadFile(gf.TokenFile)
		if err != nil {
			return fmt.Errorf("token_file: %w", err)
		}
		if g.Token = strings.TrimSpace(string(b)); g.Token == "" {
			return fmt.Errorf("token_file %s is empty", gf.TokenFile)
		}
	}
	if app && !filepath.IsAbs(g.PrivateKeyFile) {
		return fmt.Errorf("private_key_file %q must be absolute", g.PrivateKeyFile)
	}
	return nil
}

func githubLabels(g *GitHub, gf GitHubFile) error {
	labels, err := GitHubLabels(gf.Labels)
	if err != nil {
		return err
	}
	g.Labels = append(g.Labels, labels...)
	if len(g.Labels) == 0 {
		g.Labels = []string{"self-hosted"}
	}
	return nil
}

// GitHubLabels checks runner labels as GitHub takes them (1 to 256
// characters, no commas, at most 100) and returns them trimmed; the
// control plane checks its [github_jit] pools' labels with it too.
func GitHubLabels(labels []string) ([]string, error) {
	out := make([]string, 0, len(labels))
	for _, l := range labels {
		if l = strings.TrimSpace(l); l == "" || len(l) > 256 || strings.Contains(l, ",") {
			return nil, fmt.Errorf("label %q: want 1 to 256 characters, no commas", l)
		}
		out = append(out, l)
	}
	if len(out) > 100 {
		return nil, errors.New("at most 100 labels")
	}
	return out, nil
}

// githubRunnerSettings checks and defaults the runners' image, executor,
// limits and directories.
func githubRunnerSettings(g *GitHub, gf GitHubFile) error {
	var err error
	if g.RunnerImage == "" {
		g.RunnerImage = DefaultGitHubRunnerImage
	}
	switch g.PullPolicy {
	case "":
		g.PullPolicy = "if-not-present"
	case "always", "if-not-present", "never":
	default:
		return fmt.Errorf("pull_policy %q: want always, if-not-present or never", g.PullPolicy)
	}
	if err := githubExecutor(g, gf); err != nil {
		return err
	}
	if g.Limit < 0 || g.PidsLimit < 0 || g.JITPerMinute < 0 {
		return errors.New("limit, pids_limit and jit_per_minute must not be negative")
	}
	if gf.CPUs != "" {
		f, err := strconv.ParseFloat(gf.CPUs, 64)
		if err != nil || f <= 0 {
			return fmt.Errorf("cpus %q: want a positive number such as \"1.5\"", gf.CPUs)
		}
		g.NanoCPUs = int64(f * 1e9)
	}
	if g.Memory, err = size("memory", gf.Memory); err != nil {
		return err
	}
	if g.ToolCacheDir == "" {
		g.ToolCacheDir = DefaultGitHubToolCacheDir
	}
	if g.StateDir == "" {
		g.StateDir = DefaultGitHubStateDir
	}
	if !filepath.IsAbs(g.ToolCacheDir) || !filepath.IsAbs(g.StateDir) {
		return errors.New("tool_cache_dir and state_dir must be absolute")
	}
	return nil
}

// fleetCredentialsError: a table with the fleet's credentials needs the
// fleet ([fleet] url), whose control plane mints its runners.
func fleetCredentialsError(gs []GitHub, fl Fleet) error {
	for _, g := range gs {
		if g.FromFleet() && !fl.Enabled() {
			return fmt.Errorf(`github (%s): credentials = "fleet" needs a [fleet] section: the fleet's control plane mints the runners`, g.Name)
		}
	}
	return nil
}

// AppendGitHub adds a [[github]] table to the config at path, creating
// the file when missing; the file is replaced atomically with mode 0600
// and its existing text is kept.
func AppendGitHub(path string, g GitHubFile) error {
	return appendTable(path, struct {
		GitHub []GitHubFile `toml:"github"`
	}{[]GitHubFile{g}})
}

// appendTable appends the TOML encoding of tables (a struct holding one
// array of tables) to the config at path, as AppendGitHub describes.
func appendTable(path string, tables any) error {
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		old = nil
	case err != nil:
		return fmt.Errorf("read config: %w", err)
	default:
		if _, err := Read(path); err != nil {
			return fmt.Errorf("refusing to append to a config that does not parse: %w", err)
		}
	}
	var buf bytes.Buffer
	buf.Write(old)
	if len(old) == 0 {
		fmt.Fprintf(&buf, "concurrent = %d\ncheck_interval = %d\nshutdown_timeout = %d\n",
			DefaultConcurrent, int(DefaultCheckInterval.Seconds()), int(DefaultShutdownTimeout.Seconds()))
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		buf.WriteByte('\n')
	}
	buf.WriteByte('\n')
	if err := toml.NewEncoder(&buf).Encode(tables); err != nil {
		return fmt.Errorf("encode config table: %w", err)
	}
	return writeAtomic(path, buf.Bytes())
}
