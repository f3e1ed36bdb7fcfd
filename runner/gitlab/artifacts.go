package gitlab

import (
	"context"
	"fmt"
	"os"

	"github.com/runfleet/runfleet/runner/archive"
)

// uploadArtifacts zips and uploads each artifacts entry whose `when`
// matches the job's outcome.
func (b *build) uploadArtifacts(ctx context.Context, ok bool) error {
	for _, a := range b.job.Artifacts {
		if !whenOutcome(a.When, ok) {
			continue
		}
		if a.ArtifactFormat != "" && a.ArtifactFormat != "zip" {
			fmt.Fprintf(b.rep, "WARNING: artifact %q: format %q is not supported, skipped\n", a.Name, a.ArtifactFormat)
			continue
		}
		if b.s.Artifacts == nil {
			fmt.Fprintf(b.rep, "Artifacts are not uploaded without GitLab (%d paths)\n", len(a.Paths))
			continue
		}
		if err := b.uploadOne(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

func (b *build) uploadOne(ctx context.Context, a Artifact) error {
	tmp, err := os.CreateTemp("", "runfleet-artifacts-*.zip")
	if err != nil {
		return fmt.Errorf("artifacts: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	st, err := archive.Create(ctx, tmp, b.hostProjectDir(), archive.Selection{Paths: a.Paths, Exclude: a.Exclude, Untracked: a.Untracked})
	if err != nil {
		return fmt.Errorf("artifacts: %w", err)
	}
	for _, w := range st.Warnings {
		fmt.Fprintf(b.rep, "WARNING: %s\n", w)
	}
	if st.Files == 0 {
		fmt.Fprintln(b.rep, "WARNING: no files to upload as artifacts")
		return nil
	}
	if _, err := tmp.Seek(0, 0); err != nil {
		return fmt.Errorf("artifacts: %w", err)
	}
	typ := a.ArtifactType
	if typ == "" {
		typ = "archive"
	}
	fmt.Fprintf(b.rep, "Uploading artifacts: %d files, %d bytes\n", st.Files, st.Bytes)
	err = b.s.Artifacts.UploadArtifacts(ctx, b.job.ID, b.job.Token, ArtifactUpload{
		Name: a.Name, Type: typ, Format: "zip", ExpireIn: a.ExpireIn, Body: tmp,
	})
	if err != nil {
		return fmt.Errorf("uploading artifacts: %w", err)
	}
	fmt.Fprintln(b.rep, "Uploading artifacts... ok")
	return nil
}

// whenOutcome says whether a cache or artifacts entry with this `when`
// applies to a job that ended ok or not (default on_success).
func whenOutcome(when string, ok bool) bool {
	switch when {
	case "always":
		return true
	case "on_failure":
		return !ok
	default:
		return ok
	}
}

// downloadArtifacts extracts the artifacts of the job's dependencies into
// the project directory.
func (b *build) downloadArtifacts(ctx context.Context) error {
	for _, d := range b.job.Dependencies {
		if d.ArtifactsFile.Filename == "" {
			continue
		}
		if b.s.Artifacts == nil {
			return fmt.Errorf("dependency %s: artifacts need GitLab", d.Name)
		}
		fmt.Fprintf(b.rep, "Downloading artifacts for %s (%d)...\n", d.Name, d.ID)
		if err := b.downloadOne(ctx, d); err != nil {
			return fmt.Errorf("dependency %s (%d): %w", d.Name, d.ID, err)
		}
	}
	return nil
}

func (b *build) downloadOne(ctx context.Context, d Dependency) error {
	tmp, err := os.CreateTemp("", "runfleet-dependency-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := b.s.Artifacts.DownloadArtifacts(ctx, d.ID, d.Token, tmp); err != nil {
		return err
	}
	info, err := tmp.Stat()
	if err != nil {
		return err
	}
	st, err := archive.Extract(ctx, tmp, info.Size(), b.hostProjectDir())
	if err != nil {
		return err
	}
	fmt.Fprintf(b.rep, "Downloaded %d files\n", st.Files)
	return nil
}
