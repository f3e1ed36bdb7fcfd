package gitlab

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// gitStrategy is GIT_STRATEGY: how the build directory gets the sources.
type gitStrategy string

const (
	gitFetch gitStrategy = "fetch"
	gitClone gitStrategy = "clone"
	gitNone  gitStrategy = "none"
)

// sourcesRequest is what fetching a job's sources needs.
type sourcesRequest struct {
	Dir      string // host path of the project directory
	Info     GitInfo
	Strategy gitStrategy
	Depth    int
	// Checkout false leaves the work tree alone (GIT_CHECKOUT=false).
	Checkout   bool
	CleanFlags []string
	Out        io.Writer
}

// fetchSources brings Dir to the job's sha with the git CLI on the host.
// The job token never lands in .git/config: it travels as an HTTP header.
func fetchSources(ctx context.Context, r sourcesRequest) error {
	if r.Strategy == gitNone {
		fmt.Fprintln(r.Out, "Skipping Git repository setup (GIT_STRATEGY=none)")
		return os.MkdirAll(r.Dir, 0o755)
	}
	remote, header, err := splitCredentials(r.Info.RepoURL)
	if err != nil {
		return err
	}
	if r.Strategy == gitClone {
		if err := os.RemoveAll(r.Dir); err != nil {
			return fmt.Errorf("remove old build directory: %w", err)
		}
	}
	_, statErr := os.Stat(filepath.Join(r.Dir, ".git"))
	fresh := errors.Is(statErr, os.ErrNotExist)
	if fresh {
		fmt.Fprintf(r.Out, "Initialized empty Git repository, fetching %s\n", remote)
		if err := os.MkdirAll(r.Dir, 0o755); err != nil {
			return fmt.Errorf("create build directory: %w", err)
		}
		if err := git(ctx, r.Dir, "", r.Out, "init", "-q"); err != nil {
			return err
		}
		if err := git(ctx, r.Dir, "", r.Out, "remote", "add", "origin", remote); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(r.Out, "Reinitialized existing Git repository, fetching changes from %s\n", remote)
		if err := git(ctx, r.Dir, "", r.Out, "remote", "set-url", "origin", remote); err != nil {
			return err
		}
	}
	refspecs := r.Info.Refspecs
	if len(refspecs) == 0 {
		refspecs = []string{"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"}
	}
	args := []string{"fetch", "origin", "--prune", "--quiet"}
	if r.Depth > 0 {
		args = append(args, "--depth", strconv.Itoa(r.Depth))
	}
	args = append(args, refspecs...)
	if err := git(ctx, r.Dir, header, r.Out, args...); err != nil {
		return err
	}
	if !r.Checkout {
		fmt.Fprintln(r.Out, "Skipping Git checkout (GIT_CHECKOUT=false)")
		return nil
	}
	fmt.Fprintf(r.Out, "Checking out %.8s as detached HEAD (ref is %s)...\n", r.Info.Sha, r.Info.Ref)
	if err := git(ctx, r.Dir, header, r.Out, "checkout", "-f", "-q", r.Info.Sha); err != nil {
		return err
	}
	clean := r.CleanFlags
	if len(clean) == 0 {
		clean = []string{"-ffdx"}
	}
	if clean[0] == "none" {
		return nil
	}
	return git(ctx, r.Dir, "", r.Out, append([]string{"clean"}, clean...)...)
}

// splitCredentials removes user:password from a repository URL and turns
// it into an Authorization header value.
func splitCredentials(raw string) (remote, header string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("git_info.repo_url: %w", err)
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		header = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw))
		u.User = nil
	}
	return u.String(), header, nil
}

// git runs one git command in dir; authHeader, when set, is passed with -c
// so it is neither stored nor shown.
func git(ctx context.Context, dir, authHeader string, out io.Writer, args ...string) error {
	full := []string{"-c", "advice.detachedHead=false", "-c", "safe.directory=*"}
	if authHeader != "" {
		full = append(full, "-c", "http.extraHeader="+authHeader)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_ASKPASS=true", "LC_ALL=C")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git %s: %w", strings.Join(args[:1], " "), err)
	}
	return nil
}
