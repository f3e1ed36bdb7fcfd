package main

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/gitlab"
)

type registerFlags struct {
	nonInteractive bool
	url, token     string
	executor       string
	dockerImage    string
	name           string
	tagList        string
	limit          int
	runUntagged    bool
	locked         bool
	tlsCAFile      string
}

func newRegisterCmd(g *globalFlags) *cobra.Command {
	f := &registerFlags{}
	var gf *githubRegisterFlags // register_github.go
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Verify a runner token with GitLab and add the runner to the config file",
		Long: `Verifies a runner authentication token (glrt-…) with POST /api/v4/runners/verify,
or registers with a legacy registration token through POST /api/v4/runners, then
appends a [[runners]] entry to the config file (created with mode 0600 if missing).
A wrong token leaves the config untouched. Without --non-interactive it asks
for what the flags leave out (URL, token, name, executor, image) on the terminal.
--token-file reads the token from a file, so it never shows in argv or history.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !f.nonInteractive {
				if err := promptRegistration(cmd, f, gf); err != nil { // register_prompt.go
					return err
				}
			}
			if ok, err := isGitHub(f.url, gf); err != nil || ok {
				if err != nil {
					return err
				}
				return registerGitHub(cmd, g, f, gf)
			}
			return register(cmd, g, f, gf)
		},
	}
	gf = addGitHubRegisterFlags(cmd)
	fl := cmd.Flags()
	fl.BoolVarP(&f.nonInteractive, "non-interactive", "n", false, "never prompt: take everything from flags")
	fl.StringVarP(&f.url, "url", "u", "", "GitLab URL, e.g. https://gitlab.com")
	fl.StringVarP(&f.token, "token", "t", "", "runner authentication token (glrt-…), or a legacy registration token")
	fl.StringVar(&f.token, "registration-token", "", "alias of --token")
	fl.StringVar(&f.executor, "executor", "docker", "executor: docker or containerd")
	fl.StringVar(&f.dockerImage, "docker-image", config.DefaultImage, "default job image")
	fl.StringVar(&f.name, "name", "", "runner name (default: host name)")
	fl.StringVar(&f.tagList, "tag-list", "", "comma-separated tags (legacy registration only; glrt- runners get tags in GitLab)")
	fl.IntVar(&f.limit, "limit", 0, "most jobs this runner runs at once (0 = bounded by concurrent)")
	fl.BoolVar(&f.runUntagged, "run-untagged", false, "take untagged jobs (legacy registration only)")
	fl.BoolVar(&f.locked, "locked", true, "lock the runner to its project (legacy registration only)")
	fl.StringVar(&f.tlsCAFile, "tls-ca-file", "", "PEM file of the CA that signed GitLab's certificate (kept as tls-ca-file)")
	return cmd
}

func register(cmd *cobra.Command, g *globalFlags, f *registerFlags, gf *githubRegisterFlags) error {
	if f.token != "" && gf.tokenFile != "" {
		return errors.New("give --token or --token-file, not both")
	}
	if gf.tokenFile != "" {
		t, err := readTokenFile(gf.tokenFile)
		if err != nil {
			return err
		}
		f.token = t
	}
	if f.url == "" || f.token == "" {
		return errors.New("--url and --token (or --token-file) are required")
	}
	if f.executor != "docker" && f.executor != "containerd" {
		return fmt.Errorf("--executor %q is not supported (supported: docker, containerd)", f.executor)
	}
	if f.limit < 0 {
		return errors.New("--limit must not be negative")
	}
	if _, err := config.Read(g.config); err != nil && !isNotExist(err) {
		return fmt.Errorf("the existing config is broken, fix it first: %w", err)
	}
	ctx := cmd.Context()
	name := f.name
	if name == "" {
		name = hostname()
	}
	if f.tlsCAFile != "" {
		abs, err := absPath(f.tlsCAFile)
		if err != nil {
			return err
		}
		f.tlsCAFile = abs
	}
	client, err := g.runnerClient(config.RunnerFile{Name: name, URL: f.url, TLSCAFile: f.tlsCAFile})
	if err != nil {
		return err
	}
	systemID, err := gitlab.LoadOrCreateSystemID(systemIDPath(g.config))
	if err != nil {
		return fmt.Errorf("system id: %w", err)
	}
	info := versionInfo(name)
	var res gitlab.VerifyResult
	if strings.HasPrefix(f.token, "glrt-") {
		res, err = client.Verify(ctx, f.token, systemID, info)
	} else {
		fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: registering with a legacy registration token; GitLab 17+ disables these — create a runner in GitLab and use its glrt- token")
		res, err = client.Register(ctx, f.token, gitlab.RegisterRequest{
			Description: name, Tags: splitList(f.tagList), RunUntagged: f.runUntagged, Locked: f.locked, Info: info,
		})
	}
	if err != nil {
		return fmt.Errorf("registering with %s failed (config untouched): %w", f.url, err)
	}
	token := res.Token
	if token == "" {
		token = f.token
	}
	rf := config.RunnerFile{
		Name: name, URL: f.url, ID: res.ID, Token: token, Executor: f.executor, Limit: f.limit,
		TagList: splitList(f.tagList), Docker: &config.DockerFile{Image: f.dockerImage}, TLSCAFile: f.tlsCAFile,
	}
	if f.executor == "containerd" {
		rf.Docker, rf.Containerd = nil, &config.ContainerdFile{Image: f.dockerImage}
	}
	rf.TokenObtainedAt = time.Now().UTC().Truncate(time.Second)
	rf.TokenExpiresAt = res.TokenExpiresAt.UTC()
	if err := config.AppendRunner(g.config, rf); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Runner %q registered (id %d, system id %s); config: %s\n", name, res.ID, systemID, g.config)
	return nil
}

func versionInfo(name string) gitlab.VersionInfo {
	return gitlab.VersionInfo{
		Name: "runfleet", Version: version, Revision: version, Platform: runtime.GOOS,
		Architecture: runtime.GOARCH, Executor: "docker", Shell: "sh", Features: gitlab.ImplementedFeatures(),
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
