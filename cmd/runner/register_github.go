package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runfleet/runfleet/runner/config"
)

// githubRegisterFlags are the register flags only GitHub uses.
type githubRegisterFlags struct {
	platform       string
	appID          int64
	installationID int64
	privateKeyFile string
	tokenFile      string
	labels         string
	runnerGroup    string
	runnerImage    string
	namePrefix     string
	scaleSet       string // register_github_scaleset.go
	minIdle        int
	maxRunners     int
}

func addGitHubRegisterFlags(cmd *cobra.Command) *githubRegisterFlags {
	f := &githubRegisterFlags{}
	fl := cmd.Flags()
	fl.StringVar(&f.platform, "platform", "", "gitlab or github (default: github for github.com URLs, else gitlab)")
	fl.Int64Var(&f.appID, "app-id", 0, "GitHub App ID (GitHub)")
	fl.Int64Var(&f.installationID, "installation-id", 0, "GitHub App installation ID (GitHub)")
	fl.StringVar(&f.privateKeyFile, "private-key-file", "", "GitHub App private key, PEM (GitHub)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the token (GitLab or GitHub; instead of --token, so it never shows in argv or history)")
	fl.StringVar(&f.labels, "labels", "self-hosted", "comma-separated runner labels (GitHub)")
	fl.StringVar(&f.runnerGroup, "runner-group", "", "runner group name (GitHub; default: Default)")
	fl.StringVar(&f.runnerImage, "runner-image", config.DefaultGitHubRunnerImage, "runner image (GitHub)")
	fl.StringVar(&f.namePrefix, "name-prefix", "", "prefix of runner names; names also carry the node name (GitHub)")
	fl.StringVar(&f.scaleSet, "scale-set", "", "runner scale set name: writes a [[github_scale_set]] table (GitHub; jobs use runs-on: NAME)")
	fl.IntVar(&f.minIdle, "min-idle", 0, "idle runners the scale set keeps ready (GitHub --scale-set)")
	fl.IntVar(&f.maxRunners, "max-runners", 0, "most runners of the scale set (GitHub --scale-set; default 10)")
	return f
}

// isGitHub decides the platform: --platform, else the URL's host.
func isGitHub(rawURL string, gf *githubRegisterFlags) (bool, error) {
	switch gf.platform {
	case "github":
		return true, nil
	case "gitlab":
		return false, nil
	case "":
		u, err := url.Parse(rawURL)
		return err == nil && strings.EqualFold(u.Hostname(), "github.com"), nil
	}
	return false, fmt.Errorf("--platform %q: want gitlab or github", gf.platform)
}

// registerGitHub checks the credentials against the API and appends a
// [[github]] table to the config (mode 0600). A failed check leaves the
// config untouched.
func registerGitHub(cmd *cobra.Command, g *globalFlags, f *registerFlags, gf *githubRegisterFlags) error {
	if !f.nonInteractive {
		return errors.New("interactive registration is not supported: pass --non-interactive")
	}
	if f.url == "" {
		return errors.New("--url is required")
	}
	if f.limit < 0 {
		return errors.New("--limit must not be negative")
	}
	if _, err := config.Read(g.config); err != nil && !isNotExist(err) {
		return fmt.Errorf("the existing config is broken, fix it first: %w", err)
	}
	if f.token != "" && gf.tokenFile != "" {
		return errors.New("give --token or --token-file, not both")
	}
	name := f.name
	if name == "" {
		name = "github"
	}
	gfile := config.GitHubFile{
		Name: name, URL: f.url, AppID: gf.appID, InstallationID: gf.installationID, Token: f.token, TokenFile: gf.tokenFile,
		Labels: splitList(gf.labels), RunnerGroup: gf.runnerGroup, RunnerImage: gf.runnerImage, NamePrefix: gf.namePrefix, Limit: f.limit,
	}
	if f.executor != "docker" {
		gfile.Executor = f.executor // containerd: engine keys at their defaults
	}
	if gf.privateKeyFile != "" {
		abs, err := absPath(gf.privateKeyFile)
		if err != nil {
			return err
		}
		gfile.PrivateKeyFile = abs
	}
	if gf.tokenFile != "" {
		abs, err := absPath(gf.tokenFile)
		if err != nil {
			return err
		}
		gfile.TokenFile = abs
	}
	if gf.scaleSet != "" {
		return registerScaleSet(cmd, g, gf, gfile) // register_github_scaleset.go
	}
	// Validate the table as the agent will load it.
	cfg, err := config.FromFile(config.File{GitHub: []config.GitHubFile{gfile}})
	if err != nil {
		return err
	}
	logger := newLogger(g.logLevel, g.logJSON)
	client, err := githubClient(cfg.GitHub[0], logger, nil)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if err := client.Check(ctx); err != nil {
		return fmt.Errorf("checking the credentials with %s failed (config untouched): %w", f.url, err)
	}
	if _, err := client.RunnerGroupID(ctx, gf.runnerGroup); err != nil {
		return fmt.Errorf("runner group (config untouched): %w", err)
	}
	if err := config.AppendGitHub(g.config, gfile); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "GitHub runners %q registered for %s (%s, labels %s); config: %s\n",
		name, client.Target(), authKind(gfile), strings.Join(cfg.GitHub[0].Labels, ","), g.config)
	return nil
}

func authKind(g config.GitHubFile) string {
	if g.AppID != 0 {
		return fmt.Sprintf("GitHub App %d", g.AppID)
	}
	return "personal access token"
}

func absPath(p string) (string, error) {
	if strings.HasPrefix(p, "/") {
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return wd + "/" + p, nil
}
