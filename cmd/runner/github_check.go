package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/github/runnerversion"
)

// labelRunnerVersion is the label images/github-runner puts on the image:
// the actions/runner version inside.
const labelRunnerVersion = "dev.runfleet.github-runner.version"

// errRunnerTooOld: at least one configured runner is too old for GitHub.
var errRunnerTooOld = errors.New("runner too old for GitHub")

func newGitHubCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "github", Short: "GitHub Actions runner maintenance"}
	cmd.AddCommand(newGitHubCheckCmd(g))
	return cmd
}

func newGitHubCheckCmd(g *globalFlags) *cobra.Command {
	var o githubCheckOptions
	var minVersion string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Exit non-zero when a configured GitHub runner image is too old for GitHub",
		Long: `check compares the actions/runner version of every [[github]] and
[[github_scale_set]] runner image with the latest release, read through the
GitHub API of the configured URL (GET /repos/actions/runner/releases/latest).
A version is too old when it is below --min-version, or when it is not the
latest and the latest was published more than --grace ago (GitHub expects
self-hosted runners to update within 30 days of a release). The image's
version is its ` + labelRunnerVersion + ` label on the Docker engine, or
--runner-version. Run it from cron or CI: it exits 1 when any runner is too
old, printing the fix.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if minVersion != "" {
				v, err := runnerversion.Parse(minVersion)
				if err != nil {
					return err
				}
				o.policy.Min = v
			}
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			o.now = time.Now
			o.imageVersion = dockerImageVersion
			o.logger = newLogger(g.logLevel, g.logJSON)
			return githubCheck(cmd.Context(), cfg, o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.runnerVersion, "runner-version", "", "the runner version of the images (default: their "+labelRunnerVersion+" label)")
	cmd.Flags().StringVar(&minVersion, "min-version", "", "also fail below this version")
	cmd.Flags().DurationVar(&o.policy.Grace, "grace", runnerversion.Grace, "how long after a release an older runner still passes")
	return cmd
}

type githubCheckOptions struct {
	runnerVersion string
	policy        runnerversion.Policy
	now           func() time.Time
	// imageVersion reads the runner version of a runner's image.
	imageVersion func(ctx context.Context, g config.GitHub) (string, error)
	logger       *slog.Logger
}

// githubCheck checks every GitHub runner of cfg and prints one line each.
func githubCheck(ctx context.Context, cfg *config.Config, o githubCheckOptions, out io.Writer) error {
	runners := append([]config.GitHub(nil), cfg.GitHub...)
	for _, ss := range cfg.GitHubScaleSets {
		runners = append(runners, ss.GitHub)
	}
	if len(runners) == 0 {
		return errors.New("no [[github]] or [[github_scale_set]] runner in the config")
	}
	var errs []error
	for _, g := range runners {
		if g.FromFleet() {
			// No GitHub credential here to read the releases with.
			fmt.Fprintf(out, "github %s: image %s: not checked: credentials = \"fleet\" (run the check where a [[github]] table has its own credentials; GitHub's refusal still raises RunnerOutdated)\n", g.Name, g.RunnerImage)
			continue
		}
		if err := checkRunner(ctx, g, o, out); err != nil {
			errs = append(errs, fmt.Errorf("github %s: %w", g.Name, err))
		}
	}
	return errors.Join(errs...)
}

func checkRunner(ctx context.Context, g config.GitHub, o githubCheckOptions, out io.Writer) error {
	raw := o.runnerVersion
	if raw == "" {
		var err error
		if raw, err = o.imageVersion(ctx, g); err != nil {
			return fmt.Errorf("image %s: %w (pass --runner-version)", g.RunnerImage, err)
		}
	}
	configured, err := runnerversion.Parse(raw)
	if err != nil {
		return err
	}
	c, err := githubClient(g, o.logger, nil) // run_github.go
	if err != nil {
		return err
	}
	rel, err := c.LatestRunnerRelease(ctx)
	if err != nil {
		return err
	}
	ok, reason := o.policy.Check(configured, rel.Version, rel.Published, o.now())
	if ok {
		fmt.Fprintf(out, "github %s: image %s: ok: %s\n", g.Name, g.RunnerImage, reason)
		return nil
	}
	fmt.Fprintf(out, "github %s: image %s: TOO OLD for GitHub: %s; latest %s (%s). Fix: %s\n",
		g.Name, g.RunnerImage, reason, rel.Version, rel.URL, runnerversion.Fix(g.RunnerImage))
	return fmt.Errorf("%w: %s", errRunnerTooOld, reason)
}

// dockerImageVersion reads the runner version label of g's image on its
// Docker engine (DOCKER_HOST or docker_host).
func dockerImageVersion(ctx context.Context, g config.GitHub) (string, error) {
	if g.Executor == "containerd" {
		return "", errors.New("the containerd executor's images are not inspected")
	}
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if g.DockerHost != "" {
		opts = append(opts, client.WithHost(g.DockerHost))
	}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return "", err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	img, err := c.ImageInspect(ctx, g.RunnerImage)
	if err != nil {
		return "", err
	}
	if img.Config == nil || img.Config.Labels[labelRunnerVersion] == "" {
		return "", fmt.Errorf("no %s label", labelRunnerVersion)
	}
	return img.Config.Labels[labelRunnerVersion], nil
}
