package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// errNotWorkTree means the root is not inside a git work tree (or git is
// missing); untracked selection then adds nothing and warns.
var errNotWorkTree = errors.New("not a git work tree")

// gitUntracked lists the untracked, not ignored paths below dir, relative to
// dir, as `git ls-files --others --exclude-standard` reports them.
//
// The work tree belongs to the job, so git runs with the job's hooks and
// config disarmed as far as ls-files needs: no fsmonitor command, and no
// GIT_* variables inherited from the agent's environment.
func gitUntracked(ctx context.Context, dir string) ([]string, error) {
	out, err := runGit(ctx, dir, "rev-parse", "--is-inside-work-tree")
	if cerr := ctx.Err(); cerr != nil {
		return nil, cerr
	}
	if err != nil || strings.TrimSpace(string(out)) != "true" {
		if err == nil {
			err = errNotWorkTree
		}
		return nil, fmt.Errorf("%w: %w", errNotWorkTree, err)
	}
	out, err = runGit(ctx, dir, "ls-files", "-z", "--others", "--exclude-standard")
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, p := range bytes.Split(out, []byte{0}) {
		if len(p) == 0 {
			continue
		}
		paths = append(paths, string(p))
	}
	return paths, nil
}

func runGit(ctx context.Context, dir string, args ...string) ([]byte, error) {
	full := append([]string{"-c", "core.fsmonitor=false", "-c", "core.untrackedCache=false", "-C", dir}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = gitEnv(os.Environ())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// gitEnv drops GIT_* variables so the agent's environment cannot point git
// at another repository, and keeps git from prompting.
func gitEnv(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if strings.HasPrefix(kv, "GIT_") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "GIT_TERMINAL_PROMPT=0")
}

// addUntracked adds git's untracked files below the root.
func (c *collector) addUntracked(ctx context.Context, dir string) error {
	paths, err := gitUntracked(ctx, dir)
	if errors.Is(err, errNotWorkTree) {
		c.stats.warnf("untracked: %v", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("untracked: %w", err)
	}
	for _, p := range paths {
		// A nested repository is listed as "dir/"; cleanRel strips it.
		rel, err := cleanRel(p)
		if err != nil {
			c.stats.warnf("untracked: skipping %q: %v", p, err)
			continue
		}
		if rel == "." || c.excluded(rel) {
			continue
		}
		if _, err := c.addTree(ctx, rel); err != nil {
			return err
		}
	}
	return nil
}
