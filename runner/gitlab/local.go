package gitlab

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/runfleet/runfleet/runner/archive"
	"github.com/runfleet/runfleet/runner/gitlab/ciyaml"
)

// LocalJob turns a job of a local .gitlab-ci.yml into the payload GitLab
// would send, so `runner exec` runs it through the same build code.
func LocalJob(j *ciyaml.Job, projectDir string, now time.Time) *JobResponse {
	project := "local/" + filepath.Base(projectDir)
	vars := Variables{
		{Key: "CI", Value: "true", Public: true},
		{Key: "GITLAB_CI", Value: "false", Public: true},
		{Key: "CI_JOB_NAME", Value: j.Name, Public: true},
		{Key: "CI_JOB_STAGE", Value: j.Stage, Public: true},
		{Key: "CI_JOB_ID", Value: fmt.Sprint(now.Unix()), Public: true},
		{Key: "CI_PROJECT_NAME", Value: filepath.Base(projectDir), Public: true},
		{Key: "CI_PROJECT_PATH", Value: project, Public: true},
		{Key: "CI_COMMIT_REF_NAME", Value: "local", Public: true},
	}
	for _, v := range j.Variables {
		vars = append(vars, Variable{Key: v.Key, Value: v.Value, Public: true})
	}
	// The sources are the local directory as it is, copied in by RunLocal.
	vars = append(vars, Variable{Key: "GIT_STRATEGY", Value: "none", Public: true})
	job := &JobResponse{
		ID:        now.Unix(),
		Token:     "local",
		JobInfo:   JobInfo{Name: j.Name, Stage: j.Stage, ProjectFullPath: project},
		Variables: vars,
		Steps: []Step{
			{Name: StepScript, Script: append(append([]string{}, j.BeforeScript...), j.Script...), When: WhenOnSuccess, AllowFailure: j.AllowFailure},
		},
		Features: Features{TraceSections: true},
	}
	if len(j.AfterScript) > 0 {
		job.Steps = append(job.Steps, Step{Name: StepAfterScript, Script: j.AfterScript, When: WhenAlways})
	}
	if j.Timeout > 0 {
		job.RunnerInfo.Timeout = int(j.Timeout.Seconds())
	}
	if j.Image != nil {
		job.Image = &Image{Name: j.Image.Name, Entrypoint: j.Image.Entrypoint, PullPolicy: j.Image.PullPolicy}
	}
	for _, s := range j.Services {
		job.Services = append(job.Services, Image{Name: s.Name, Alias: s.Alias, Entrypoint: s.Entrypoint, Command: s.Command})
	}
	for _, c := range j.Cache {
		key := c.Key
		if key == "" {
			key = j.Name + "/local"
		}
		job.Cache = append(job.Cache, Cache{Key: key, Paths: c.Paths, Policy: c.Policy, When: c.When, Untracked: c.Untracked, FallbackKeys: c.FallbackKeys})
	}
	return job
}

// copySources fills the build's project directory with a copy of a local
// directory (without .git), through the same safe archive code caches use.
func copySources(ctx context.Context, src, dst string, out io.Writer) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("read project directory: %w", err)
	}
	var paths []string
	for _, e := range entries {
		if e.Name() != ".git" {
			paths = append(paths, e.Name())
		}
	}
	tmp, err := os.CreateTemp("", "runfleet-sources-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := archive.Create(ctx, tmp, src, archive.Selection{Paths: paths}); err != nil {
		return fmt.Errorf("copy sources: %w", err)
	}
	info, err := tmp.Stat()
	if err != nil {
		return err
	}
	st, err := archive.Extract(ctx, tmp, info.Size(), dst)
	if err != nil {
		return fmt.Errorf("copy sources: %w", err)
	}
	fmt.Fprintf(out, "Copied %d files from %s\n", st.Files, src)
	return nil
}

// localReporter prints the log to a writer; there is no platform to cancel.
type localReporter struct {
	w      io.WriteCloser
	result FinalResult
}

func (l *localReporter) Write(p []byte) (int, error) { return l.w.Write(p) }
func (l *localReporter) Canceling() <-chan struct{}  { return nil }
func (l *localReporter) Aborted() <-chan struct{}    { return nil }
func (l *localReporter) Finish(_ context.Context, r FinalResult) error {
	l.result = r
	return l.w.Close()
}

// RunLocal runs a local job (see LocalJob) with sources copied from
// projectDir, printing its masked log to out.
func RunLocal(ctx context.Context, s BuildSettings, job *JobResponse, projectDir string, out io.Writer) FinalResult {
	rep := &localReporter{w: NewMasker(out, job.Variables.Masked(), nil)}
	s.LocalSources = projectDir
	b := &build{s: s, job: job, rep: rep}
	res := b.run(ctx)
	if err := b.cleanup(ctx); err != nil {
		fmt.Fprintf(rep, "WARNING: cleaning up: %v\n", err)
	}
	_ = rep.Finish(ctx, res)
	return res
}
