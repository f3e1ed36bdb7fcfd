package github

import (
	"context"
	"fmt"
	"time"

	gh "github.com/google/go-github/v92/github"

	"github.com/runfleet/runfleet/runner/github/runnerversion"
)

// RunnerRelease is the latest release of the official runner
// (actions/runner).
type RunnerRelease struct {
	Version   runnerversion.Version
	Published time.Time
	URL       string
}

// LatestRunnerRelease asks the API (GET /repos/actions/runner/releases/latest,
// under the configured base URL) for the latest actions/runner release.
func (c *Client) LatestRunnerRelease(ctx context.Context) (RunnerRelease, error) {
	var rel *gh.RepositoryRelease
	err := c.call(ctx, "latest actions/runner release", func(ctx context.Context) error {
		var err error
		rel, _, err = c.api.Repositories.GetLatestRelease(ctx, "actions", "runner")
		return err
	})
	if err != nil {
		return RunnerRelease{}, err
	}
	v, err := runnerversion.Parse(rel.GetTagName())
	if err != nil {
		return RunnerRelease{}, fmt.Errorf("github: latest actions/runner release: %w", err)
	}
	published := rel.GetPublishedAt().Time
	if published.IsZero() {
		return RunnerRelease{}, fmt.Errorf("github: latest actions/runner release %s has no published_at", v)
	}
	return RunnerRelease{Version: v, Published: published, URL: rel.GetHTMLURL()}, nil
}
